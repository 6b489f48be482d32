// Embeds tuna's store: opens a SQLite store, applies a manifest, watches it change.
// Usage: store_quickstart DB_PATH
#include <tuna/tuna.hpp>

#include <chrono>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DB_PATH\n", argv[0]);
    return 2;
  }
  auto store = tuna::MakeSqliteStore({.path = argv[1]});
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", store.status().ToString().c_str());
    return 1;
  }
  auto docs = tuna::DecodeYamlResources(R"(
apiVersion: tuna.ai/v1alpha1
kind: AgentMemory
metadata:
  name: quickstart-memory
  namespace: default
spec:
  type: conversation
)", "inline manifest");
  if (!docs.ok()) {
    std::fprintf(stderr, "error: %s\n", docs.status().ToString().c_str());
    return 1;
  }
  auto watch = (*store)->Watch({.kind = "AgentMemory", .namespace_ = "default"});
  if (!watch.ok()) {
    std::fprintf(stderr, "error: %s\n", watch.status().ToString().c_str());
    return 1;
  }
  for (auto& doc : *docs) {
    auto created = (*store)->Create(doc);
    if (!created.ok() && created.status().code() != tuna::StatusCode::kAlreadyExists) {
      std::fprintf(stderr, "error: %s\n", created.status().ToString().c_str());
      return 1;
    }
  }
  while (auto ev = (*watch)->Next(std::chrono::milliseconds(100))) {
    std::printf("%s %s resourceVersion=%s\n", std::string(tuna::WatchEventTypeName(ev->type)).c_str(),
                ev->object.metadata.name.c_str(), ev->object.metadata.resource_version.c_str());
  }
  auto list = (*store)->List({.kind = "AgentMemory"});
  if (!list.ok()) return 1;
  std::printf("%zu AgentMemory object(s) at revision %s\n", list->items.size(), list->resource_version.c_str());
  return 0;
}
