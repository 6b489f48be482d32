#pragma once
// Private: HTTP routes of the build/deploy pipeline that sit beside the REST API:
//   POST /artifacts                       upload a snapshot (tar.gz) -> {"digest": "sha256:..."}
//   GET  /artifacts/{digest}              download it
//   GET  .../namespaces/{ns}/{agentbuilds|mcpserverbuilds}/{name}/log[?offset=N]
//   ANY  .../namespaces/{ns}/{agentdeployments|mcpserverdeployments}/{name}/proxy/{stage}/{path}
//   GET  .../namespaces/{ns}/{agentdeployments|mcpserverdeployments}/{name}/log[?stage=&tailBytes=]
//   GET  .../namespaces/{ns}/{plural}/{name}/events   recent events (newest last)
// The proxy sub-resource (as Kubernetes' services/proxy) reaches a stage's revision through its
// executor; the A2A/MCP gateway replaces it as the user-facing way in.

#include <optional>

#include "controllers/workloads.hpp"
#include "net/http_types.hpp"
#include "tuna/artifacts.hpp"
#include "tuna/driver.hpp"
#include "tuna/events.hpp"
#include "tuna/store.hpp"

namespace tuna::server {

class WorkloadRoutes {
 public:
  WorkloadRoutes(Store& store, ArtifactStore& artifacts, DriverRegistry& drivers,
                 controllers::WorkloadControllers* controllers, const EventRecorder* events)
      : store_(store), artifacts_(artifacts), drivers_(drivers), controllers_(controllers), events_(events) {}

  /// Answers the request if it is one of these routes (the caller has authenticated it).
  std::optional<net::HttpResponse> Handle(net::HttpRequest& req);

 private:
  net::HttpResponse UploadArtifact(net::HttpRequest& req);
  net::HttpResponse DownloadArtifact(net::HttpRequest& req, const std::string& digest);
  net::HttpResponse BuildLog(net::HttpRequest& req, const std::string& kind, const std::string& ns,
                             const std::string& name);
  net::HttpResponse DeploymentLogs(net::HttpRequest& req, const std::string& kind, const std::string& ns,
                                   const std::string& name);
  net::HttpResponse Proxy(net::HttpRequest& req, const std::string& kind, const std::string& ns,
                          const std::string& name, const std::string& stage, const std::string& rest);

  Store& store_;
  ArtifactStore& artifacts_;
  DriverRegistry& drivers_;
  controllers::WorkloadControllers* controllers_;
  const EventRecorder* events_;
};

}  // namespace tuna::server
