// API keys (tuna/auth.hpp): creation, authentication, scopes and namespaces, revocation, expiry,
// persistence in SQLite, bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "support/temp_dir.hpp"
#include "tuna/auth.hpp"

namespace tuna {
namespace {

using auth::Scope;

auth::KeyStorePtr MemoryKeys() {
  auto keys = auth::MakeKeyStore({.path = {}, .admin_token = "the-admin-token"});
  EXPECT_TRUE(keys.ok()) << keys.status().ToString();
  return std::move(*keys);
}

TEST(AuthKeyStore, CreatedKeyAuthenticatesWithItsNamespaceAndScope) {
  auto keys = MemoryKeys();
  auto made = keys->Create({.namespace_ = "team-a", .name = "ci", .scope = Scope::kWrite, .rate_limit = {10, 20}});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(made->token.rfind("tuna_" + made->info.id + "_", 0), 0u) << made->token;
  auto who = keys->Authenticate(made->token);
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->namespace_, "team-a");
  EXPECT_EQ(who->name, "ci");
  EXPECT_EQ(who->scope, Scope::kWrite);
  EXPECT_EQ(who->rate_limit, (auth::RateLimit{10, 20}));
  EXPECT_TRUE(who->Allows("team-a", Scope::kInvoke));
  EXPECT_TRUE(who->Allows("team-a", Scope::kWrite));
  EXPECT_FALSE(who->Allows("team-a", Scope::kAdmin));
  EXPECT_FALSE(who->Allows("team-b", Scope::kInvoke));
  Status other = who->Check("team-b", Scope::kInvoke);
  EXPECT_EQ(other.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(other.message().find("belongs to namespace team-a"), std::string::npos) << other.ToString();
  Status admin = who->Check("team-a", Scope::kAdmin);
  EXPECT_NE(admin.message().find("has scope write; this needs admin"), std::string::npos) << admin.ToString();
}

TEST(AuthKeyStore, AdminTokenReachesEveryNamespace) {
  auto keys = MemoryKeys();
  auto who = keys->Authenticate("the-admin-token");
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(who->is_server_admin());
  EXPECT_TRUE(who->Allows("anything", Scope::kAdmin));
}

TEST(AuthKeyStore, WrongMalformedAndDeletedTokensAreRefused) {
  auto keys = MemoryKeys();
  auto made = keys->Create({.namespace_ = "default", .name = "k", .scope = Scope::kInvoke});
  ASSERT_TRUE(made.ok());
  std::string tampered = made->token;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  for (const std::string& bad : {std::string(""), std::string("nope"), tampered, std::string("tuna_zz_zz"),
                                 made->token.substr(0, made->token.size() - 1)}) {
    auto r = keys->Authenticate(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << bad;
    EXPECT_EQ(r.status().message().find(made->token.substr(18)), std::string::npos) << "secrets are never echoed";
  }
  ASSERT_TRUE(keys->Delete("default", "k").ok());
  EXPECT_EQ(keys->Authenticate(made->token).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(keys->Delete("default", "k").code(), StatusCode::kNotFound);
}

TEST(AuthKeyStore, ExpiredKeyIsRefusedWithAClearMessage) {
  auto keys = MemoryKeys();
  auto made = keys->Create({.namespace_ = "default", .name = "short", .ttl = std::chrono::seconds(1)});
  ASSERT_TRUE(made.ok());
  EXPECT_TRUE(keys->Authenticate(made->token).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto r = keys->Authenticate(made->token);
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("has expired"), std::string::npos) << r.status().ToString();
}

TEST(AuthKeyStore, NamesAreUniquePerNamespaceAndValidated) {
  auto keys = MemoryKeys();
  ASSERT_TRUE(keys->Create({.namespace_ = "a", .name = "k"}).ok());
  EXPECT_EQ(keys->Create({.namespace_ = "a", .name = "k"}).status().code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(keys->Create({.namespace_ = "b", .name = "k"}).ok());
  auto bad_name = keys->Create({.namespace_ = "a", .name = "Bad/Name"});
  EXPECT_EQ(bad_name.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_name.status().message().find("name:"), std::string::npos);
  EXPECT_EQ(keys->Create({.namespace_ = "../x", .name = "k"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(keys->Create({.namespace_ = "a", .name = "r", .rate_limit = {-1, 0}}).status().code(), StatusCode::kInvalidArgument);
  auto listed = keys->List("a");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(keys->List("")->size(), 2u);
  EXPECT_EQ(auth::ParseScope("root").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*auth::ParseScope("admin"), Scope::kAdmin);
}

TEST(AuthKeyStore, KeysSurviveAReopenAndOnlyHashesAreStored) {
  testing::TempDir dir;
  std::string path = dir.path() + "/keys.db";
  std::string token;
  {
    auto keys = auth::MakeKeyStore({.path = path, .admin_token = ""});
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    auto made = (*keys)->Create({.namespace_ = "default", .name = "persisted", .scope = Scope::kAdmin});
    ASSERT_TRUE(made.ok());
    token = made->token;
  }
  auto keys = auth::MakeKeyStore({.path = path, .admin_token = ""});
  ASSERT_TRUE(keys.ok());
  auto who = (*keys)->Authenticate(token);
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->scope, Scope::kAdmin);
  // The secret part of the token is nowhere in the database file.
  std::string secret = token.substr(token.rfind('_') + 1);
  for (const char* suffix : {"", "-wal"}) {
    std::ifstream in(path + suffix, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(secret), std::string::npos) << suffix;
  }
}

TEST(AuthKeyStore, BearerHeaderParsing) {
  EXPECT_EQ(*auth::BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(*auth::BearerToken("bearer  abc "), "abc");
  EXPECT_EQ(auth::BearerToken("").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(auth::BearerToken("Basic abc").status().code(), StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace tuna
