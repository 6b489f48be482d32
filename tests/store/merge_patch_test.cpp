#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tuna/store.hpp"

namespace tuna {
namespace {

boost::json::value Patched(std::string_view target, std::string_view patch) {
  boost::json::value v = boost::json::parse(target);
  Status s = ApplyMergePatch(v, patch);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return v;
}

// The examples of RFC 7386 appendix A.
TEST(MergePatch, Rfc7386Examples) {
  struct Case {
    const char* target;
    const char* patch;
    const char* result;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
           {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
           {R"({"a":"b"})", R"({"a":null})", R"({})"},
           {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
           {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
           {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
           {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
           {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
           {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
           {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
           {R"({"a":"foo"})", R"(null)", R"(null)"},
           {R"({"a":"foo"})", R"("bar")", R"("bar")"},
           {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
           {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
           {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
       }) {
    EXPECT_EQ(Patched(c.target, c.patch), boost::json::parse(c.result)) << c.target << " + " << c.patch;
  }
}

TEST(MergePatch, InvalidJsonIsInvalidArgument) {
  boost::json::value v = boost::json::parse(R"({"a":1})");
  Status s = ApplyMergePatch(v, R"({"a": )");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("merge patch"), std::string::npos) << s.message();
  EXPECT_EQ(v, boost::json::parse(R"({"a":1})")) << "target untouched on error";
}

}  // namespace
}  // namespace tuna
