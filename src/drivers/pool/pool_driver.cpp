#include "drivers/pool/pool_driver.hpp"

namespace tuna {

Result<DriverPtr> MakePoolDriver(PoolDriverOptions options) {
  TUNA_ASSIGN_OR_RETURN(auto core, pool::PoolCore::Make(std::move(options)));
  return DriverPtr(std::make_unique<pool::PoolDriver>(std::move(core)));
}

}  // namespace tuna
