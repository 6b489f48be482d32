// One conformance suite for every Store backend: the same Kubernetes semantics must hold for
// the memory store and the SQLite store (a fresh database file per test).

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "store/store_test_util.hpp"
#include "tuna/store.hpp"

namespace tuna {
namespace {

using namespace std::chrono_literals;
using testing_store::Deployment;
using testing_store::MakeObject;
using testing_store::OwnedBy;
using testing_store::TempDir;

struct StoreSize {
  std::size_t event_window = 10000;
  std::size_t watcher_queue_limit = 10000;
};

class StoreConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { store_ = Open(); }

  StorePtr Open(StoreSize size = {}) {
    if (GetParam() == "Memory") {
      return MakeMemoryStore({size.event_window, size.watcher_queue_limit});
    }
    SqliteStoreOptions o;
    o.path = dir_.File("store-" + std::to_string(opened_++) + ".db");
    o.event_window = size.event_window;
    o.watcher_queue_limit = size.watcher_queue_limit;
    auto s = MakeSqliteStore(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  Resource MustCreate(Resource r, Store* store = nullptr) {
    auto created = (store ? store : store_.get())->Create(std::move(r));
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : Resource{};
  }

  static std::int64_t Rv(const Resource& r) { return std::stoll(r.metadata.resource_version); }

  // Collects events until `n` arrived (or the watch closed); generous timeout per event.
  static std::vector<WatchEvent> NextN(Watch& w, std::size_t n) {
    std::vector<WatchEvent> out;
    while (out.size() < n) {
      auto e = w.Next(5s);
      if (!e) break;
      out.push_back(std::move(*e));
    }
    return out;
  }

  TempDir dir_;
  int opened_ = 0;
  StorePtr store_;
};

// --- create / get ------------------------------------------------------------------------------

TEST_P(StoreConformance, CreateAssignsServerOwnedMetadata) {
  Resource in = Deployment("echo");
  in.metadata.uid = "client-uid";
  in.metadata.generation = 7;
  in.metadata.creation_timestamp = "1999-01-01T00:00:00Z";
  in.status = boost::json::object{{"phase", "PendingStaging"}};
  Resource a = MustCreate(in);
  static const std::regex kUuidV4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  EXPECT_TRUE(std::regex_match(a.metadata.uid, kUuidV4)) << a.metadata.uid;
  EXPECT_EQ(a.metadata.generation, 1);
  EXPECT_NE(a.metadata.creation_timestamp, "1999-01-01T00:00:00Z");
  EXPECT_EQ(a.metadata.creation_timestamp.size(), 20u) << a.metadata.creation_timestamp;
  EXPECT_EQ(a.status, in.status) << "status given on create is kept";
  EXPECT_GT(Rv(a), 0);

  Resource b = MustCreate(Deployment("other"));
  EXPECT_GT(Rv(b), Rv(a));
  EXPECT_NE(a.metadata.uid, b.metadata.uid);

  auto got = store_->Get(KeyOf(a));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, a);
  EXPECT_EQ(store_->Stats().revision, Rv(b));
  EXPECT_EQ(store_->Stats().objects, 2);
}

TEST_P(StoreConformance, CreateValidates) {
  auto r = store_->Create(Deployment(""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "metadata.name: required field is missing");

  r = store_->Create(Deployment("x", ""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "metadata.namespace: required field is missing");

  Resource with_rv = Deployment("x");
  with_rv.metadata.resource_version = "5";
  r = store_->Create(with_rv);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "metadata.resourceVersion");

  r = store_->Create(MakeObject("Nope", "default", "x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Stats().objects, 0);
  EXPECT_EQ(store_->Stats().revision, 0);
}

TEST_P(StoreConformance, CreateAlreadyExists) {
  Resource a = MustCreate(Deployment("echo"));
  auto r = store_->Create(Deployment("echo"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(r.status().message(), "AgentDeployment default/echo already exists");
  EXPECT_EQ(store_->Stats().revision, Rv(a)) << "a failed write does not consume a revision";
  // Same name, other namespace or kind: a different object.
  MustCreate(Deployment("echo", "team-b"));
  MustCreate(MakeObject("AgentBuild", "default", "echo"));
}

TEST_P(StoreConformance, GetNotFoundAndValidation) {
  auto r = store_->Get({"AgentDeployment", "default", "missing"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "AgentDeployment default/missing not found");
  EXPECT_EQ(store_->Get({"AgentDeployment", "default", ""}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Get({"", "default", "x"}).status().code(), StatusCode::kInvalidArgument);
}

// --- update ------------------------------------------------------------------------------------

TEST_P(StoreConformance, UpdateWithStaleResourceVersionConflicts) {
  Resource a = MustCreate(Deployment("echo"));
  Resource edit = a;
  edit.spec.as_object()["environmentName"] = "py2";
  auto u1 = store_->Update(edit);
  ASSERT_TRUE(u1.ok()) << u1.status().ToString();
  EXPECT_GT(Rv(*u1), Rv(a));

  edit.spec.as_object()["environmentName"] = "py3";  // still carries a's resourceVersion
  auto u2 = store_->Update(edit);
  ASSERT_FALSE(u2.ok());
  EXPECT_EQ(u2.status().code(), StatusCode::kConflict);
  EXPECT_NE(u2.status().message().find(
                "the object has been modified; please apply your changes to the latest version and try again"),
            std::string::npos)
      << u2.status().message();
  EXPECT_EQ(store_->Get(KeyOf(a))->spec, u1->spec);

  edit.metadata.resource_version.clear();  // unconditional update
  auto u3 = store_->Update(edit);
  ASSERT_TRUE(u3.ok()) << u3.status().ToString();
  EXPECT_EQ(u3->spec.at("environmentName"), "py3");
}

TEST_P(StoreConformance, UpdateMissingIsNotFound) {
  auto r = store_->Update(Deployment("ghost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_P(StoreConformance, GenerationBumpsOnlyOnSpecChange) {
  Resource a = MustCreate(Deployment("echo"));
  Resource edit = a;
  edit.metadata.labels["tier"] = "web";
  edit.metadata.annotations["note"] = "x";
  auto labels = store_->Update(edit);
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(labels->metadata.generation, 1);
  EXPECT_GT(Rv(*labels), Rv(a));
  EXPECT_EQ(labels->metadata.labels.at("tier"), "web");

  edit = *labels;
  edit.spec.as_object()["environmentName"] = "py2";
  auto spec = store_->Update(edit);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->metadata.generation, 2);

  // Same spec content with keys in another order is no spec change.
  edit = *spec;
  edit.spec = boost::json::object{{"environmentName", "py2"}};
  edit.metadata.labels["tier"] = "api";
  auto same = store_->Update(edit);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->metadata.generation, 2);
}

TEST_P(StoreConformance, NoOpUpdateKeepsResourceVersionAndEmitsNoEvent) {
  Resource a = MustCreate(Deployment("echo", "default", {{"app", "echo"}}));
  auto watch = store_->Watch({.kind = "AgentDeployment", .resource_version = a.metadata.resource_version});
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();

  auto same = store_->Update(a);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->metadata.resource_version, a.metadata.resource_version);
  auto same_status = store_->Update(a, {Subresource::kStatus});
  ASSERT_TRUE(same_status.ok());
  EXPECT_EQ(same_status->metadata.resource_version, a.metadata.resource_version);
  auto same_patch = store_->Patch(KeyOf(a), R"({"metadata":{"labels":{"app":"echo"}}})");
  ASSERT_TRUE(same_patch.ok());
  EXPECT_EQ(same_patch->metadata.resource_version, a.metadata.resource_version);
  EXPECT_EQ(store_->Stats().revision, Rv(a));

  // The first event the watcher sees is the next real change, not the no-ops.
  auto real = store_->Patch(KeyOf(a), R"({"metadata":{"labels":{"app":"echo2"}}})");
  ASSERT_TRUE(real.ok());
  auto events = NextN(**watch, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, WatchEventType::kModified);
  EXPECT_EQ(events[0].object.metadata.resource_version, real->metadata.resource_version);
  EXPECT_TRUE((*watch)->Drain().empty());
}

TEST_P(StoreConformance, StatusSubresource) {
  Resource in = Deployment("echo");
  in.status = boost::json::object{{"phase", "PendingStaging"}};
  Resource a = MustCreate(in);

  // Main: spec and metadata change, status is kept from the store.
  Resource edit = a;
  edit.spec.as_object()["environmentName"] = "py2";
  edit.status = boost::json::object{{"phase", "Hacked"}};
  auto main = store_->Update(edit);
  ASSERT_TRUE(main.ok());
  EXPECT_EQ(main->status.at("phase"), "PendingStaging");
  EXPECT_EQ(main->spec.at("environmentName"), "py2");

  // Status: only status changes; generation does not move.
  edit = *main;
  edit.spec.as_object()["environmentName"] = "ignored";
  edit.metadata.labels["ignored"] = "yes";
  edit.status = boost::json::object{{"phase", "StagingDeployed"}};
  auto status = store_->Update(edit, {Subresource::kStatus});
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->status.at("phase"), "StagingDeployed");
  EXPECT_EQ(status->spec.at("environmentName"), "py2");
  EXPECT_TRUE(status->metadata.labels.empty());
  EXPECT_EQ(status->metadata.generation, main->metadata.generation);
  EXPECT_GT(Rv(*status), Rv(*main));
  EXPECT_EQ(*store_->Get(KeyOf(a)), *status);
}

TEST_P(StoreConformance, ServerOwnedFieldsAreKept) {
  Resource a = MustCreate(Deployment("echo"));
  Resource edit = a;
  edit.metadata.creation_timestamp = "2000-01-01T00:00:00Z";
  edit.metadata.generation = 42;
  edit.metadata.deletion_timestamp = "2000-01-01T00:00:00Z";
  edit.metadata.labels["x"] = "y";
  auto u = store_->Update(edit);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->metadata.creation_timestamp, a.metadata.creation_timestamp);
  EXPECT_EQ(u->metadata.generation, 1);
  EXPECT_EQ(u->metadata.uid, a.metadata.uid);
  EXPECT_TRUE(u->metadata.deletion_timestamp.empty());

  edit = *u;
  edit.metadata.uid = "someone-else";
  auto wrong_uid = store_->Update(edit);
  ASSERT_FALSE(wrong_uid.ok());
  EXPECT_EQ(wrong_uid.status().code(), StatusCode::kConflict);
}

// --- patch -------------------------------------------------------------------------------------

TEST_P(StoreConformance, PatchMergesIntoStoredObject) {
  Resource in = Deployment("echo", "default", {{"app", "echo"}, {"legacy", "true"}});
  in.spec = boost::json::object{{"environmentName", "py"}, {"source", {{"repo", "r"}, {"ref", "main"}}}};
  Resource a = MustCreate(in);

  auto p = store_->Patch(KeyOf(a), R"({"spec":{"source":{"ref":"dev","commit":"abc"}},
                                       "metadata":{"labels":{"legacy":null,"tier":"web"}}})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->spec.at("source"), (boost::json::value{{"repo", "r"}, {"ref", "dev"}, {"commit", "abc"}}));
  EXPECT_EQ(p->metadata.labels, (std::map<std::string, std::string>{{"app", "echo"}, {"tier", "web"}}));
  EXPECT_EQ(p->metadata.generation, 2);
  EXPECT_EQ(*store_->Get(KeyOf(a)), *p);

  // Status through the main resource is ignored; through the status sub-resource it lands.
  auto ps = store_->Patch(KeyOf(a), R"({"status":{"phase":"Running"}})");
  ASSERT_TRUE(ps.ok());
  EXPECT_TRUE(ps->status.is_null());
  ps = store_->Patch(KeyOf(a), R"({"status":{"phase":"Running"}})", {Subresource::kStatus});
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->status.at("phase"), "Running");
  EXPECT_EQ(ps->metadata.generation, 2);
}

TEST_P(StoreConformance, PatchErrorsAndPreconditions) {
  Resource a = MustCreate(Deployment("echo"));
  EXPECT_EQ(store_->Patch(KeyOf(a), R"({"spec": )").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Patch({"AgentDeployment", "default", "ghost"}, "{}").status().code(), StatusCode::kNotFound);
  auto rename = store_->Patch(KeyOf(a), R"({"metadata":{"name":"other"}})");
  EXPECT_EQ(rename.status().code(), StatusCode::kInvalidArgument) << rename.status().ToString();
  auto bad_meta = store_->Patch(KeyOf(a), R"({"metadata":{"labels":{"a":1}}})");
  EXPECT_EQ(bad_meta.status().code(), StatusCode::kInvalidArgument);

  auto p1 = store_->Patch(KeyOf(a), R"({"spec":{"environmentName":"py2"}})");
  ASSERT_TRUE(p1.ok());
  // A resourceVersion in the patch is a precondition.
  auto stale = store_->Patch(KeyOf(a), R"({"metadata":{"resourceVersion":")" + a.metadata.resource_version +
                                          R"("},"spec":{"environmentName":"py3"}})");
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);
  auto fresh = store_->Patch(KeyOf(a), R"({"metadata":{"resourceVersion":")" + p1->metadata.resource_version +
                                          R"("},"spec":{"environmentName":"py3"}})");
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(fresh->spec.at("environmentName"), "py3");
  EXPECT_EQ(fresh->metadata.generation, 3);
}

// --- delete ------------------------------------------------------------------------------------

TEST_P(StoreConformance, DeleteWithPreconditions) {
  Resource a = MustCreate(Deployment("echo"));
  auto bad_rv = store_->Delete(KeyOf(a), {.precondition_resource_version = "999"});
  ASSERT_FALSE(bad_rv.ok());
  EXPECT_EQ(bad_rv.status().code(), StatusCode::kConflict);
  auto bad_uid = store_->Delete(KeyOf(a), {.precondition_uid = "not-it"});
  ASSERT_FALSE(bad_uid.ok());
  EXPECT_EQ(bad_uid.status().code(), StatusCode::kConflict);
  EXPECT_TRUE(store_->Get(KeyOf(a)).ok());

  auto d = store_->Delete(KeyOf(a), {a.metadata.resource_version, a.metadata.uid});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->metadata.uid, a.metadata.uid);
  EXPECT_GT(Rv(*d), Rv(a)) << "the deleted object carries the deletion revision";
  EXPECT_EQ(store_->Stats().revision, Rv(*d));
  EXPECT_EQ(store_->Get(KeyOf(a)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete(KeyOf(a)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Stats().objects, 0);
  // The name can be reused, with a new uid.
  Resource again = MustCreate(Deployment("echo"));
  EXPECT_NE(again.metadata.uid, a.metadata.uid);
}

TEST_P(StoreConformance, CascadeDeletesDependentsRecursivelyInOneRevision) {
  Resource root = MustCreate(Deployment("echo"));
  Resource build = MakeObject("AgentBuild", "default", "echo-1");
  build.metadata.owner_references = {OwnedBy(root)};
  build = MustCreate(build);
  Resource grandchild = MakeObject("AgentMemory", "default", "echo-1-cache");
  grandchild.metadata.owner_references = {OwnedBy(build)};
  grandchild = MustCreate(grandchild);
  Resource second_build = MakeObject("AgentBuild", "default", "echo-2");
  second_build.metadata.owner_references = {OwnedBy(root)};
  second_build = MustCreate(second_build);
  // Not dependents: another namespace naming the same uid (owners are namespace-local), an
  // object whose reference was removed by an update, and an unrelated object.
  Resource foreign = MakeObject("AgentBuild", "other", "echo-1");
  foreign.metadata.owner_references = {OwnedBy(root)};
  foreign = MustCreate(foreign);
  Resource released = MakeObject("AgentBuild", "default", "released");
  released.metadata.owner_references = {OwnedBy(root)};
  released = MustCreate(released);
  released.metadata.owner_references.clear();
  ASSERT_TRUE(store_->Update(released).ok());
  MustCreate(Deployment("unrelated"));
  // A reference added by an update counts.
  Resource adopted = MustCreate(MakeObject("AgentBuild", "default", "adopted"));
  adopted.metadata.owner_references = {OwnedBy(second_build)};
  ASSERT_TRUE(store_->Update(adopted).ok());

  auto watch = store_->Watch({.resource_version = std::to_string(store_->Stats().revision)});
  ASSERT_TRUE(watch.ok());
  const auto objects_before = store_->Stats().objects;

  auto d = store_->Delete(KeyOf(root));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  for (const auto& gone : {root, build, grandchild, second_build, adopted}) {
    EXPECT_EQ(store_->Get(KeyOf(gone)).status().code(), StatusCode::kNotFound) << ToString(KeyOf(gone));
  }
  for (const auto& kept : {foreign, released}) {
    EXPECT_TRUE(store_->Get(KeyOf(kept)).ok()) << ToString(KeyOf(kept));
  }
  EXPECT_TRUE(store_->Get({"AgentDeployment", "default", "unrelated"}).ok());
  EXPECT_EQ(store_->Stats().objects, objects_before - 5);

  auto events = NextN(**watch, 5);
  ASSERT_EQ(events.size(), 5u);
  std::set<std::string> names;
  for (const auto& e : events) {
    EXPECT_EQ(e.type, WatchEventType::kDeleted);
    EXPECT_EQ(e.object.metadata.resource_version, d->metadata.resource_version) << "one transaction, one revision";
    names.insert(e.object.kind + "/" + e.object.metadata.name);
  }
  EXPECT_EQ(names, (std::set<std::string>{"AgentDeployment/echo", "AgentBuild/echo-1", "AgentMemory/echo-1-cache",
                                          "AgentBuild/echo-2", "AgentBuild/adopted"}));
  EXPECT_EQ(events.back().object.metadata.name, "echo") << "the owner's DELETED comes last";
  EXPECT_TRUE((*watch)->Drain().empty());
}

TEST_P(StoreConformance, CascadeSurvivesOwnerCycles) {
  Resource a = MustCreate(Deployment("a"));
  Resource b = MakeObject("AgentBuild", "default", "b");
  b.metadata.owner_references = {OwnedBy(a)};
  b = MustCreate(b);
  a.metadata.owner_references = {OwnedBy(b)};
  ASSERT_TRUE(store_->Update(a).ok());
  ASSERT_TRUE(store_->Delete(KeyOf(b)).ok());
  EXPECT_EQ(store_->Stats().objects, 0);
}

// --- list --------------------------------------------------------------------------------------

TEST_P(StoreConformance, ListOrdersByNamespaceAndNameAndFilters) {
  MustCreate(Deployment("b", "ns2", {{"app", "b"}, {"tier", "web"}}));
  MustCreate(Deployment("a", "ns2", {{"app", "a"}}));
  MustCreate(Deployment("z", "ns1", {{"app", "z"}, {"tier", "web"}}));
  MustCreate(Deployment("c", "ns1"));
  MustCreate(MakeObject("AgentBuild", "ns1", "not-a-deployment"));

  auto all = store_->List({.kind = "AgentDeployment"});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::vector<std::string> got;
  for (const auto& r : all->items) got.push_back(r.metadata.namespace_ + "/" + r.metadata.name);
  EXPECT_EQ(got, (std::vector<std::string>{"ns1/c", "ns1/z", "ns2/a", "ns2/b"}));
  EXPECT_EQ(all->resource_version, std::to_string(store_->Stats().revision));
  EXPECT_TRUE(all->continue_token.empty());

  auto ns2 = store_->List({.kind = "AgentDeployment", .namespace_ = "ns2"});
  ASSERT_TRUE(ns2.ok());
  ASSERT_EQ(ns2->items.size(), 2u);
  EXPECT_EQ(ns2->items[0].metadata.name, "a");

  auto web = store_->List({.kind = "AgentDeployment", .label_selector = "tier=web"});
  ASSERT_TRUE(web.ok());
  ASSERT_EQ(web->items.size(), 2u);
  EXPECT_EQ(web->items[0].metadata.name, "z");
  EXPECT_EQ(web->items[1].metadata.name, "b");
  auto not_web = store_->List({.kind = "AgentDeployment", .namespace_ = "ns1", .label_selector = "tier notin (web)"});
  ASSERT_TRUE(not_web.ok());
  ASSERT_EQ(not_web->items.size(), 1u);
  EXPECT_EQ(not_web->items[0].metadata.name, "c");

  auto empty = store_->List({.kind = "AgentCatalogue"});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->items.empty());
}

TEST_P(StoreConformance, ListRejectsBadInput) {
  auto bad_selector = store_->List({.kind = "AgentDeployment", .label_selector = "app in (a"});
  EXPECT_EQ(bad_selector.status().code(), StatusCode::kInvalidArgument);
  auto bad_term = store_->List({.kind = "AgentDeployment", .label_selector = "app=a,tier>>1"});
  ASSERT_FALSE(bad_term.ok());
  EXPECT_NE(bad_term.status().message().find("tier>>1"), std::string::npos) << bad_term.status().message();
  EXPECT_EQ(store_->List({.kind = ""}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List({.kind = "Bogus"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List({.kind = "AgentDeployment", .limit = -1}).status().code(), StatusCode::kInvalidArgument);
  for (const std::string token : {"garbage!", "eyJydiI6MX0", "bm90IGpzb24", "e30"}) {
    auto r = store_->List({.kind = "AgentDeployment", .continue_token = token});
    ASSERT_FALSE(r.ok()) << token;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << token;
  }
  // A token from one kind's list cannot continue another kind's list.
  for (int i = 0; i < 3; ++i) MustCreate(Deployment("d" + std::to_string(i)));
  auto page = store_->List({.kind = "AgentDeployment", .limit = 1});
  ASSERT_TRUE(page.ok());
  ASSERT_FALSE(page->continue_token.empty());
  auto other = store_->List({.kind = "AgentBuild", .continue_token = page->continue_token});
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreConformance, ListPagesWithContinueAcrossConcurrentWrites) {
  for (int i = 0; i < 10; ++i) MustCreate(Deployment("obj-" + std::to_string(i)));
  auto first = store_->List({.kind = "AgentDeployment", .limit = 3});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 3u);
  ASSERT_FALSE(first->continue_token.empty());
  const std::string list_rv = first->resource_version;

  // Between pages: an object before the cursor, one after it, and a deletion of an unseen one.
  MustCreate(Deployment("obj-0a"));
  MustCreate(Deployment("obj-99"));
  ASSERT_TRUE(store_->Delete({"AgentDeployment", "default", "obj-5"}).ok());

  std::vector<std::string> names;
  for (const auto& r : first->items) names.push_back(r.metadata.name);
  std::string token = first->continue_token;
  int pages = 1;
  while (!token.empty()) {
    auto page = store_->List({.kind = "AgentDeployment", .limit = 3, .continue_token = token});
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_EQ(page->resource_version, list_rv) << "every page reports the list's revision";
    EXPECT_LE(page->items.size(), 3u);
    for (const auto& r : page->items) names.push_back(r.metadata.name);
    token = page->continue_token;
    ASSERT_LT(++pages, 10);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"obj-0", "obj-1", "obj-2", "obj-3", "obj-4", "obj-6", "obj-7",
                                             "obj-8", "obj-9", "obj-99"}));

  // Paging with a selector counts matching objects only.
  auto sel = store_->List({.kind = "AgentDeployment", .label_selector = "!nope", .limit = 4});
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sel->items.size(), 4u);
  auto none = store_->List({.kind = "AgentDeployment", .label_selector = "nope", .limit = 4});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
  EXPECT_TRUE(none->continue_token.empty());

  // Exactly `limit` items left: no token promising more.
  auto exact = store_->List({.kind = "AgentDeployment", .limit = 11});
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->items.size(), 11u);
  EXPECT_TRUE(exact->continue_token.empty());
}

TEST_P(StoreConformance, ListPagesWithinNamespace) {
  for (const char* ns : {"a", "b", "c"}) {
    for (int i = 0; i < 4; ++i) MustCreate(Deployment("o" + std::to_string(i), ns));
  }
  std::vector<std::string> names;
  std::string token;
  do {
    auto page = store_->List({.kind = "AgentDeployment", .namespace_ = "b", .limit = 3, .continue_token = token});
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& r : page->items) names.push_back(r.metadata.namespace_ + "/" + r.metadata.name);
    token = page->continue_token;
  } while (!token.empty());
  EXPECT_EQ(names, (std::vector<std::string>{"b/o0", "b/o1", "b/o2", "b/o3"}));
}

// --- watch -------------------------------------------------------------------------------------

TEST_P(StoreConformance, WatchSendsInitialStateThenChanges) {
  Resource a = MustCreate(Deployment("a"));
  MustCreate(Deployment("b"));
  MustCreate(MakeObject("AgentBuild", "default", "b1"));
  auto watch = store_->Watch({.kind = "AgentDeployment"});
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  auto initial = NextN(**watch, 2);
  ASSERT_EQ(initial.size(), 2u);
  EXPECT_EQ(initial[0].type, WatchEventType::kAdded);
  EXPECT_EQ(initial[0].object, a);
  EXPECT_EQ(initial[1].object.metadata.name, "b");

  Resource c = MustCreate(Deployment("c"));
  MustCreate(MakeObject("AgentBuild", "default", "b2"));  // other kind: filtered out
  auto pa = store_->Patch(KeyOf(a), R"({"spec":{"environmentName":"py9"}})");
  ASSERT_TRUE(pa.ok());
  auto dc = store_->Delete(KeyOf(c));
  ASSERT_TRUE(dc.ok());
  auto live = NextN(**watch, 3);
  ASSERT_EQ(live.size(), 3u);
  EXPECT_EQ(live[0].type, WatchEventType::kAdded);
  EXPECT_EQ(live[0].object, c);
  EXPECT_EQ(live[1].type, WatchEventType::kModified);
  EXPECT_EQ(live[1].object, *pa);
  EXPECT_EQ(live[2].type, WatchEventType::kDeleted);
  EXPECT_EQ(live[2].object.metadata.resource_version, dc->metadata.resource_version);
  EXPECT_TRUE((*watch)->Drain().empty());
  EXPECT_FALSE((*watch)->closed());
  EXPECT_EQ(WatchEventTypeName(live[2].type), "DELETED");

  // "0" is the same as empty; send_initial_events=false starts at now.
  auto zero = store_->Watch({.kind = "AgentDeployment", .resource_version = "0"});
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(NextN(**zero, 2).size(), 2u);
  auto now = store_->Watch({.kind = "AgentDeployment", .send_initial_events = false});
  ASSERT_TRUE(now.ok());
  EXPECT_TRUE((*now)->Drain().empty());
  Resource d = MustCreate(Deployment("d"));
  auto ev = NextN(**now, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].object, d);
}

TEST_P(StoreConformance, WatchFromResourceVersionReplaysEverythingAfterIt) {
  Resource a = MustCreate(Deployment("a"));
  Resource b = MustCreate(Deployment("b"));
  auto pa = store_->Patch(KeyOf(a), R"({"spec":{"environmentName":"x"}})");
  ASSERT_TRUE(pa.ok());
  auto watch = store_->Watch({.resource_version = a.metadata.resource_version});
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  auto events = (*watch)->Drain();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, WatchEventType::kAdded);
  EXPECT_EQ(events[0].object, b);
  EXPECT_EQ(events[1].type, WatchEventType::kModified);
  EXPECT_EQ(events[1].object, *pa);

  auto latest = store_->Watch({.resource_version = pa->metadata.resource_version});
  ASSERT_TRUE(latest.ok());
  EXPECT_TRUE((*latest)->Drain().empty());

  EXPECT_EQ(store_->Watch({.resource_version = "abc"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Watch({.resource_version = "-3"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Watch({.kind = "Bogus"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Watch({.label_selector = "a in"}).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreConformance, WatchFromRevisionOlderThanWindowIsGone) {
  store_ = Open({.event_window = 5});
  for (int i = 0; i < 10; ++i) MustCreate(Deployment("o" + std::to_string(i)));  // revisions 1..10
  auto gone = store_->Watch({.resource_version = "1"});
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kGone);
  EXPECT_EQ(gone.status().message(), "too old resource version: 1 (oldest available 5)");
  auto oldest = store_->Watch({.resource_version = "5"});
  ASSERT_TRUE(oldest.ok()) << oldest.status().ToString();
  EXPECT_EQ((*oldest)->Drain().size(), 5u);
  // The snapshot path is unaffected by the window's size.
  auto listwatch = store_->Watch({});
  ASSERT_TRUE(listwatch.ok());
  EXPECT_EQ((*listwatch)->Drain().size(), 10u);
}

TEST_P(StoreConformance, SlowWatcherGetsOneGoneErrorAndIsClosed) {
  store_ = Open({.watcher_queue_limit = 3});
  for (int i = 0; i < 5; ++i) MustCreate(Deployment("pre" + std::to_string(i)));
  auto slow = store_->Watch({.kind = "AgentDeployment"});  // 5 initial events: not counted
  ASSERT_TRUE(slow.ok());
  auto fast = store_->Watch({.kind = "AgentDeployment", .send_initial_events = false});
  ASSERT_TRUE(fast.ok());
  EXPECT_EQ(store_->Stats().watchers, 2);
  for (int i = 0; i < 3; ++i) {
    MustCreate(Deployment("o" + std::to_string(i)));
    EXPECT_EQ((*fast)->Drain().size(), 1u);
  }
  EXPECT_FALSE((*slow)->closed()) << "3 live events fit a queue of 3";
  MustCreate(Deployment("o3"));
  MustCreate(Deployment("o4"));
  EXPECT_TRUE((*slow)->closed());
  auto events = (*slow)->Drain();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, WatchEventType::kError);
  EXPECT_EQ(events[0].error.code(), StatusCode::kGone);
  EXPECT_FALSE((*slow)->Next(0ms).has_value());
  EXPECT_EQ(store_->Stats().watchers, 1) << "an expired watcher leaves the store";
  EXPECT_FALSE((*fast)->closed());
  EXPECT_EQ((*fast)->Drain().size(), 2u);
}

TEST_P(StoreConformance, WatchFiltersByNamespaceNameAndLabels) {
  auto by_ns = store_->Watch({.namespace_ = "team-a", .send_initial_events = false});
  auto by_name = store_->Watch({.kind = "AgentDeployment", .name = "echo", .send_initial_events = false});
  auto by_label = store_->Watch({.kind = "AgentDeployment", .label_selector = "app=echo", .send_initial_events = false});
  ASSERT_TRUE(by_ns.ok() && by_name.ok() && by_label.ok());

  Resource echo_a = MustCreate(Deployment("echo", "team-a", {{"app", "echo"}}));
  MustCreate(Deployment("other", "team-b"));
  Resource echo_b = MustCreate(Deployment("echo", "team-b"));

  auto ns_events = (*by_ns)->Drain();
  ASSERT_EQ(ns_events.size(), 1u);
  EXPECT_EQ(ns_events[0].object, echo_a);
  auto name_events = (*by_name)->Drain();
  ASSERT_EQ(name_events.size(), 2u);
  EXPECT_EQ(name_events[1].object, echo_b);

  // Selector semantics: entering the set is ADDED, leaving it is DELETED, staying is MODIFIED.
  auto label_events = (*by_label)->Drain();
  ASSERT_EQ(label_events.size(), 1u);
  EXPECT_EQ(label_events[0].type, WatchEventType::kAdded);
  ASSERT_TRUE(store_->Patch(KeyOf(echo_b), R"({"metadata":{"labels":{"app":"echo"}}})").ok());
  ASSERT_TRUE(store_->Patch(KeyOf(echo_b), R"({"metadata":{"labels":{"extra":"1"}}})").ok());
  auto left = store_->Patch(KeyOf(echo_a), R"({"metadata":{"labels":{"app":"other"}}})");
  ASSERT_TRUE(left.ok());
  ASSERT_TRUE(store_->Patch(KeyOf(echo_a), R"({"metadata":{"labels":{"still":"out"}}})").ok());
  label_events = (*by_label)->Drain();
  ASSERT_EQ(label_events.size(), 3u);
  EXPECT_EQ(label_events[0].type, WatchEventType::kAdded);
  EXPECT_EQ(label_events[0].object.metadata.namespace_, "team-b");
  EXPECT_EQ(label_events[1].type, WatchEventType::kModified);
  EXPECT_EQ(label_events[2].type, WatchEventType::kDeleted);
  EXPECT_EQ(label_events[2].object, *left) << "DELETED carries the new object and revision";

  // The initial snapshot applies the same filters (every kind, one namespace; one name).
  auto snapshot_ns = store_->Watch({.namespace_ = "team-a"});
  ASSERT_TRUE(snapshot_ns.ok());
  auto initial = (*snapshot_ns)->Drain();
  ASSERT_EQ(initial.size(), 1u);
  EXPECT_EQ(initial[0].object.metadata.name, "echo");
  EXPECT_EQ(initial[0].object.metadata.namespace_, "team-a");
  auto snapshot_name = store_->Watch({.kind = "AgentDeployment", .name = "other"});
  ASSERT_TRUE(snapshot_name.ok());
  initial = (*snapshot_name)->Drain();
  ASSERT_EQ(initial.size(), 1u);
  EXPECT_EQ(initial[0].object.metadata.namespace_, "team-b");
}

TEST_P(StoreConformance, WatchSnapshotIsConsistentWithConcurrentWrites) {
  // A writer churns while watches start at random points; replaying each watch must give
  // exactly the final state, with no event lost or doubled between snapshot and stream.
  std::atomic<bool> stop{false};
  std::atomic<bool> writer_done{false};
  std::atomic<int> iterations{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load() && i < 3000; ++i, ++iterations) {
      std::string name = "w" + std::to_string(i % 7);
      auto got = store_->Get({"AgentDeployment", "default", name});
      if (!got.ok()) {
        (void)store_->Create(Deployment(name, "default", {{"n", std::to_string(i)}}));
      } else if (i % 3 == 0) {
        (void)store_->Delete(KeyOf(*got));
      } else {
        got->metadata.labels["n"] = std::to_string(i);
        (void)store_->Update(*got);
      }
    }
    writer_done = true;
  });
  std::vector<WatchPtr> watches;
  while (watches.size() < 40 && !writer_done.load()) {
    auto w = store_->Watch({.kind = "AgentDeployment"});
    if (!w.ok()) {
      ADD_FAILURE() << w.status().ToString();
      break;
    }
    watches.push_back(std::move(*w));
    // Let some writes land between two watch starts.
    for (int seen = iterations.load(); iterations.load() < seen + 3 && !writer_done.load();) std::this_thread::yield();
  }
  stop = true;
  writer.join();
  auto final_list = store_->List({.kind = "AgentDeployment"});
  ASSERT_TRUE(final_list.ok());
  std::map<std::string, std::string> expected;  // name -> resourceVersion
  for (const auto& r : final_list->items) expected[r.metadata.name] = r.metadata.resource_version;

  for (auto& w : watches) {
    std::map<std::string, std::string> state;
    std::map<std::string, std::int64_t> last_rv;
    for (auto& e : w->Drain()) {
      ASSERT_NE(e.type, WatchEventType::kError) << e.error.ToString();
      const std::string& name = e.object.metadata.name;
      std::int64_t rv = Rv(e.object);
      EXPECT_GT(rv, last_rv[name]) << "duplicate or out-of-order event for " << name;
      last_rv[name] = rv;
      if (e.type == WatchEventType::kDeleted) {
        EXPECT_EQ(state.erase(name), 1u) << "DELETED for an object the watcher never saw: " << name;
      } else {
        EXPECT_EQ(state.count(name), e.type == WatchEventType::kModified ? 1u : 0u) << name;
        state[name] = e.object.metadata.resource_version;
      }
    }
    EXPECT_EQ(state, expected);
  }
}

TEST_P(StoreConformance, NotifyCallbackStopAndDestruction) {
  auto watch = store_->Watch({.send_initial_events = false});
  ASSERT_TRUE(watch.ok());
  std::atomic<int> notified{0};
  (*watch)->SetNotify([&] { notified++; });
  MustCreate(Deployment("a"));
  EXPECT_EQ(notified.load(), 1);
  MustCreate(Deployment("b"));
  EXPECT_EQ(notified.load(), 1) << "notify only when the queue goes from empty to non-empty";
  EXPECT_EQ((*watch)->Drain().size(), 2u);
  MustCreate(Deployment("c"));
  EXPECT_EQ(notified.load(), 2);

  // A notify installed after events were queued fires at once.
  auto late = store_->Watch({});
  ASSERT_TRUE(late.ok());
  std::atomic<int> late_notified{0};
  (*late)->SetNotify([&] { late_notified++; });
  EXPECT_EQ(late_notified.load(), 1);

  // Stop wakes a blocked Next.
  auto blocked = store_->Watch({.send_initial_events = false});
  ASSERT_TRUE(blocked.ok());
  std::optional<WatchEvent> result = WatchEvent{};
  std::thread waiter([&] { result = (*blocked)->Next(std::chrono::hours(1)); });
  std::this_thread::sleep_for(20ms);
  (*blocked)->Stop();
  waiter.join();
  EXPECT_FALSE(result.has_value());
  EXPECT_TRUE((*blocked)->closed());

  EXPECT_EQ(store_->Stats().watchers, 2);
  watch->reset();
  EXPECT_EQ(store_->Stats().watchers, 1) << "a destroyed watch leaves the store";

  // Destroying the store closes live watches; they stay safe to use and destroy.
  EXPECT_EQ((*late)->Drain().size(), 3u);
  std::atomic<int> closed_notified{0};
  (*late)->SetNotify([&] { closed_notified++; });
  EXPECT_EQ(closed_notified.load(), 0);
  store_.reset();
  EXPECT_TRUE((*late)->closed());
  EXPECT_EQ(closed_notified.load(), 1) << "closing is announced through notify";
  (void)(*late)->Drain();
  EXPECT_FALSE((*late)->Next(0ms).has_value());
  late->reset();
}

TEST_P(StoreConformance, ConcurrentConflictingUpdatesExactlyOneWinsPerRevision) {
  Resource a = MustCreate(MakeObject("AgentDeployment", "default", "counter", boost::json::object{{"n", 0}}));
  constexpr int kThreads = 4;
  constexpr int kAttempts = 25;
  std::mutex mu;
  std::map<std::string, int> winners_by_base;  // resourceVersion read -> successful updates from it
  std::vector<std::int64_t> written;
  std::atomic<int> conflicts{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      ready++;
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      for (int i = 0; i < kAttempts; ++i) {
        auto cur = store_->Get(KeyOf(a));
        if (!cur.ok()) continue;
        Resource next = *cur;
        next.spec.as_object()["n"] = cur->spec.at("n").as_int64() + 1;
        std::this_thread::yield();  // widen the read-modify-write race
        auto r = store_->Update(next);
        std::lock_guard lock(mu);
        if (r.ok()) {
          winners_by_base[cur->metadata.resource_version]++;
          written.push_back(Rv(*r));
        } else {
          EXPECT_EQ(r.status().code(), StatusCode::kConflict) << r.status().ToString();
          conflicts++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& [rv, n] : winners_by_base) EXPECT_EQ(n, 1) << "two updates won from revision " << rv;
  const int wins = static_cast<int>(written.size());
  EXPECT_EQ(wins + conflicts.load(), kThreads * kAttempts);
  EXPECT_EQ(std::set<std::int64_t>(written.begin(), written.end()).size(), written.size());
  auto final_obj = store_->Get(KeyOf(a));
  ASSERT_TRUE(final_obj.ok());
  EXPECT_EQ(final_obj->spec.at("n").as_int64(), wins) << "no lost update";
  EXPECT_EQ(final_obj->metadata.generation, 1 + wins);
}

INSTANTIATE_TEST_SUITE_P(Store, StoreConformance, ::testing::Values("Memory", "Sqlite"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace tuna
