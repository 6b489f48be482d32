#include <gtest/gtest.h>

#include "tuna/store.hpp"

namespace tuna {
namespace {

LabelSelector MustParse(std::string_view text) {
  auto s = LabelSelector::Parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().ToString();
  return s.ok() ? *s : LabelSelector();
}

TEST(LabelSelector, EmptyMatchesEverything) {
  auto s = MustParse("  ");
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.Matches({}));
  EXPECT_TRUE(s.Matches({{"a", "b"}}));
}

TEST(LabelSelector, EqualityOperators) {
  std::map<std::string, std::string> labels{{"app", "echo"}, {"tier", "api"}};
  EXPECT_TRUE(MustParse("app=echo").Matches(labels));
  EXPECT_TRUE(MustParse("app==echo").Matches(labels));
  EXPECT_FALSE(MustParse("app=other").Matches(labels));
  EXPECT_TRUE(MustParse("app!=other").Matches(labels));
  EXPECT_FALSE(MustParse("app!=echo").Matches(labels));
  EXPECT_TRUE(MustParse("missing!=x").Matches(labels)) << "!= matches when the label is absent";
  EXPECT_TRUE(MustParse("app=echo, tier = api").Matches(labels));
  EXPECT_FALSE(MustParse("app=echo,tier=web").Matches(labels));
}

TEST(LabelSelector, SetOperatorsAndExistence) {
  std::map<std::string, std::string> labels{{"env", "prod"}, {"team", "x"}};
  EXPECT_TRUE(MustParse("env in (dev, prod)").Matches(labels));
  EXPECT_FALSE(MustParse("env in (dev,qa)").Matches(labels));
  EXPECT_TRUE(MustParse("env notin (dev)").Matches(labels));
  EXPECT_FALSE(MustParse("env notin (prod,dev)").Matches(labels));
  EXPECT_TRUE(MustParse("other notin (prod)").Matches(labels));
  EXPECT_FALSE(MustParse("other in (prod)").Matches(labels));
  EXPECT_TRUE(MustParse("team").Matches(labels));
  EXPECT_FALSE(MustParse("legacy").Matches(labels));
  EXPECT_TRUE(MustParse("!legacy").Matches(labels));
  EXPECT_FALSE(MustParse("!team").Matches(labels));
  EXPECT_TRUE(MustParse("env in (prod),team,!legacy,example.com/owner!=bob").Matches(labels));
}

TEST(LabelSelector, ToStringIsCanonical) {
  EXPECT_EQ(MustParse(" app == echo ,env in ( a , b ), !legacy,team").ToString(),
            "app=echo,env in (a,b),!legacy,team");
  EXPECT_EQ(MustParse("x notin (y)").ToString(), "x notin (y)");
  auto again = MustParse(MustParse("a!=b,c in (d,e)").ToString());
  EXPECT_EQ(again.ToString(), "a!=b,c in (d,e)");
}

TEST(LabelSelector, ErrorsNameTheBadTerm) {
  struct Case {
    std::string text;
    std::string term;
  };
  for (const auto& c : std::vector<Case>{
           {"app=echo,env in (a,b", ""},  // unbalanced: reported for the whole selector
           {"app=echo,,tier=web", "\"\": empty term"},
           {"app=echo,tier>3", "\"tier>3\""},
           {"app=ec ho", "\"app=ec ho\""},
           {"env in ()", "\"env in ()\": value list must not be empty"},
           {"env in a,b", "\"env in a\""},
           {"=x", "\"=x\": missing label key"},
           {"-bad=x", "\"-bad=x\""},
           {"!", "\"!\": missing label key"},
       }) {
    auto r = LabelSelector::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("invalid label selector \"" + c.text + "\""), std::string::npos)
        << r.status().message();
    if (!c.term.empty()) {
      EXPECT_NE(r.status().message().find("term " + c.term), std::string::npos) << r.status().message();
    } else {
      EXPECT_NE(r.status().message().find("unbalanced parentheses"), std::string::npos) << r.status().message();
    }
  }
}

TEST(LabelSelector, EmptyValueIsAllowed) {
  auto s = MustParse("a=");
  EXPECT_TRUE(s.Matches({{"a", ""}}));
  EXPECT_FALSE(s.Matches({{"a", "x"}}));
}

}  // namespace
}  // namespace tuna
