// Agent keys (src/auth/agent_keys.hpp): per-revision invoke keys of deployed agents in front of
// the user key store: scope and namespace, listing and labelling, refusal to delete through the
// key API, revocation, re-issue, bad owners, and user keys still working through the wrapper.
#include <gtest/gtest.h>

#include "auth/agent_keys.hpp"

namespace tuna {
namespace {

using auth::Scope;

std::unique_ptr<auth::AgentKeyStore> Keys() {
  auto users = auth::MakeKeyStore({.path = {}, .admin_token = "the-admin-token"});
  EXPECT_TRUE(users.ok()) << users.status().ToString();
  return std::make_unique<auth::AgentKeyStore>(std::move(*users));
}

const auth::AgentKeyOwner kEcho{"team-a", "echo", "staging", "src-0123abcd"};

TEST(AgentKeys, IssuedKeyIsInvokeInItsNamespaceOnly) {
  auto keys = Keys();
  auto issued = keys->Issue(kEcho);
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  EXPECT_EQ(issued->info.name, "agent:echo:staging:src-0123abcd");
  EXPECT_EQ(issued->token.rfind("tuna_" + issued->info.id + "_", 0), 0u) << issued->token;
  auto who = keys->Authenticate(issued->token);
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->namespace_, "team-a");
  EXPECT_EQ(who->scope, Scope::kInvoke);
  EXPECT_EQ(who->name, "agent:echo:staging:src-0123abcd");
  EXPECT_TRUE(who->Allows("team-a", Scope::kInvoke));
  EXPECT_FALSE(who->Allows("team-a", Scope::kWrite));
  EXPECT_FALSE(who->Allows("team-b", Scope::kInvoke));
  EXPECT_FALSE(who->is_server_admin());

  // A wrong secret for the same id is refused.
  std::string forged = issued->token;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(keys->Authenticate(forged).status().code(), StatusCode::kUnauthenticated);
}

TEST(AgentKeys, ListedLabelledAndNotDeletableThroughTheKeyApi) {
  auto keys = Keys();
  ASSERT_TRUE(keys->Create({.namespace_ = "team-a", .name = "ci", .scope = Scope::kWrite}).ok());
  ASSERT_TRUE(keys->Create({.namespace_ = "team-b", .name = "ci", .scope = Scope::kWrite}).ok());
  auto issued = keys->Issue(kEcho);
  ASSERT_TRUE(issued.ok());

  auto listed = keys->List("team-a");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "agent:echo:staging:src-0123abcd");
  EXPECT_TRUE(auth::IsAgentKeyName((*listed)[0].name));
  EXPECT_EQ((*listed)[1].name, "ci");
  EXPECT_FALSE(auth::IsAgentKeyName((*listed)[1].name));
  EXPECT_EQ(keys->List("team-b")->size(), 1u);
  EXPECT_EQ(keys->List("")->size(), 3u);

  EXPECT_TRUE(keys->Get("team-a", "agent:echo:staging:src-0123abcd").ok());
  EXPECT_TRUE(keys->Get("team-a", issued->info.id).ok());
  EXPECT_EQ(keys->Get("team-b", issued->info.id).status().code(), StatusCode::kNotFound);

  Status refused = keys->Delete("team-a", "agent:echo:staging:src-0123abcd");
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("AgentDeployment"), std::string::npos) << refused.ToString();
  EXPECT_TRUE(keys->Authenticate(issued->token).ok());

  // User keys still work through the wrapper; their names can never look like agent keys.
  EXPECT_TRUE(keys->Delete("team-a", "ci").ok());
  EXPECT_EQ(keys->Create({.namespace_ = "team-a", .name = "agent:echo:staging:x"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(keys->Authenticate("the-admin-token").ok());
}

TEST(AgentKeys, RevokedAndReissuedKeysStopWorking) {
  auto keys = Keys();
  auto first = keys->Issue(kEcho);
  ASSERT_TRUE(first.ok());
  // Placing the same revision again gets a fresh key; the old one stops working.
  auto second = keys->Issue(kEcho);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(first->token, second->token);
  EXPECT_EQ(keys->Authenticate(first->token).status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(keys->Authenticate(second->token).ok());
  EXPECT_EQ(keys->agent_key_count(), 1u);

  // Another revision of the same stage (a canary) has its own key.
  auth::AgentKeyOwner canary = kEcho;
  canary.revision = "0123456789abcdef0123456789abcdef01234567";
  auto third = keys->Issue(canary);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(keys->agent_key_count(), 2u);

  keys->Revoke(kEcho);
  EXPECT_EQ(keys->Authenticate(second->token).status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(keys->Authenticate(third->token).ok());
  keys->Revoke(kEcho);  // nothing left: no-op
  keys->Revoke(canary);
  EXPECT_EQ(keys->agent_key_count(), 0u);
  EXPECT_EQ(keys->List("team-a")->size(), 0u);
}

TEST(AgentKeys, BadOwnersAreRefused) {
  auto keys = Keys();
  auto bad = [&](auth::AgentKeyOwner o) { return keys->Issue(o).status().code(); };
  EXPECT_EQ(bad({"Team", "echo", "staging", "r1"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad({"team-a", "", "staging", "r1"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad({"team-a", "echo", "dev", "r1"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad({"team-a", "echo", "staging", ""}), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad({"team-a", "echo", "staging", "a/b"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad({"team-a", "echo", "staging", "a:b"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(keys->agent_key_count(), 0u);
}

}  // namespace
}  // namespace tuna
