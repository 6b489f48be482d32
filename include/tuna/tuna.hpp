#pragma once
/// The umbrella header: everything a C++ program needs to embed tuna.

#include "tuna/admission.hpp"
#include "tuna/artifacts.hpp"
#include "tuna/client.hpp"
#include "tuna/controller.hpp"
#include "tuna/driver.hpp"
#include "tuna/events.hpp"
#include "tuna/jsonrpc.hpp"
#include "tuna/mcp/server.hpp"
#include "tuna/mcp/streamable_http.hpp"
#include "tuna/resources/codec.hpp"
#include "tuna/resources/kinds.hpp"
#include "tuna/resources/object.hpp"
#include "tuna/server.hpp"
#include "tuna/status.hpp"
#include "tuna/store.hpp"
#include "tuna/version.hpp"
