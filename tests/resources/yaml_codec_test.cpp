#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tuna/resources/codec.hpp"
#include "tuna/resources/kinds.hpp"

namespace json = boost::json;

namespace tuna {
namespace {

json::value ParseOne(std::string_view text) {
  auto docs = ParseYamlDocuments(text, "t.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  if (!docs.ok() || docs->size() != 1) {
    ADD_FAILURE() << "expected one document";
    return nullptr;
  }
  return (*docs)[0].value;
}

TEST(YamlCodec, ScalarsFollowTheCoreSchema) {
  json::value v = ParseOne(
      "t: true\n"
      "f: False\n"
      "qt: \"true\"\n"
      "n1: ~\n"
      "n2: null\n"
      "n3:\n"
      "i: 12\n"
      "neg: -7\n"
      "hex: 0x1F\n"
      "oct: 0o17\n"
      "lead0: 007\n"
      "fl: 1.5\n"
      "exp: 1e3\n"
      "ver: 1.0.26\n"
      "ts: 2023-12-01T12:00:00Z\n"
      "yes11: yes\n"
      "sq: '12'\n"
      "tagged: !!str 5\n"
      "big: 18014398509481983\n"
      "huge: 18446744073709551615\n"
      "lit: |\n  line1\n  line2\n");
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("t"), json::value(true));
  EXPECT_EQ(o.at("f"), json::value(false));
  EXPECT_EQ(o.at("qt"), json::value("true"));
  EXPECT_TRUE(o.at("n1").is_null());
  EXPECT_TRUE(o.at("n2").is_null());
  EXPECT_TRUE(o.at("n3").is_null());
  EXPECT_EQ(o.at("i"), json::value(12));
  EXPECT_EQ(o.at("neg"), json::value(-7));
  EXPECT_EQ(o.at("hex"), json::value(31));
  EXPECT_EQ(o.at("oct"), json::value(15));
  EXPECT_EQ(o.at("lead0"), json::value(7));
  EXPECT_TRUE(o.at("fl").is_double());
  EXPECT_EQ(o.at("fl").as_double(), 1.5);
  EXPECT_TRUE(o.at("exp").is_double());
  EXPECT_EQ(o.at("exp").as_double(), 1000.0);
  EXPECT_EQ(o.at("ver"), json::value("1.0.26"));
  EXPECT_EQ(o.at("ts"), json::value("2023-12-01T12:00:00Z"));
  EXPECT_EQ(o.at("yes11"), json::value("yes"));  // YAML 1.2: not a boolean
  EXPECT_EQ(o.at("sq"), json::value("12"));
  EXPECT_EQ(o.at("tagged"), json::value("5"));
  ASSERT_TRUE(o.at("big").is_int64());
  EXPECT_EQ(o.at("big").as_int64(), 18014398509481983);
  ASSERT_TRUE(o.at("huge").is_uint64());
  EXPECT_EQ(o.at("huge").as_uint64(), 18446744073709551615ull);
  EXPECT_EQ(o.at("lit"), json::value("line1\nline2\n"));
}

TEST(YamlCodec, MultiDocumentStreamSkipsEmptyDocuments) {
  auto docs = ParseYamlDocuments("---\n# nothing\n---\na: 1\n---\n---\nb: [x, y]\n...\n", "m.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ(json::serialize((*docs)[0].value), R"({"a":1})");
  EXPECT_EQ((*docs)[0].source, "m.yaml (document 2)");
  EXPECT_EQ((*docs)[0].line, 4);
  EXPECT_EQ(json::serialize((*docs)[1].value), R"({"b":["x","y"]})");
  EXPECT_EQ((*docs)[1].source, "m.yaml (document 4)");
  EXPECT_EQ((*docs)[1].line, 7);
}

TEST(YamlCodec, SingleDocumentSourceIsTheFileName) {
  auto docs = ParseYamlDocuments("a: 1\n", "one.yaml");
  ASSERT_TRUE(docs.ok());
  EXPECT_EQ((*docs)[0].source, "one.yaml");
  auto empty = ParseYamlDocuments("", "empty.yaml");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(YamlCodec, RecordsTheLineOfEveryField) {
  auto docs = ParseYamlDocuments("a: 1\nspec:\n  items:\n    - x\n    - name: y\n      v: 2\n", "l.yaml");
  ASSERT_TRUE(docs.ok());
  const auto& lines = (*docs)[0].field_lines;
  EXPECT_EQ(lines.at("a"), 1);
  EXPECT_EQ(lines.at("spec"), 2);
  EXPECT_EQ(lines.at("spec.items"), 3);
  EXPECT_EQ(lines.at("spec.items[0]"), 4);
  EXPECT_EQ(lines.at("spec.items[1]"), 5);
  EXPECT_EQ(lines.at("spec.items[1].v"), 6);
}

TEST(YamlCodec, SyntaxErrorNamesFileLineAndColumn) {
  auto r = ParseYamlDocuments("a: 1\n  b: 2\n", "bad.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "bad.yaml:2:4: invalid YAML: illegal map value");
}

TEST(YamlCodec, UnclosedFlowSequence) {
  auto r = ParseYamlDocuments("a: [1, 2\nb: 3\n", "bad.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "bad.yaml:2:2: invalid YAML: end of sequence flow not found");
}

TEST(YamlCodec, UndefinedAlias) {
  auto r = ParseYamlDocuments("a: *nope\n", "bad.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "bad.yaml:1:4: invalid YAML: the referenced anchor is not defined");
}

TEST(YamlCodec, DuplicateKeyIsAnError) {
  auto r = ParseYamlDocuments("a: 1\na: 2\n", "dup.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "dup.yaml:2:1: duplicate key \"a\"");
}

TEST(YamlCodec, ComplexKeyIsAnError) {
  auto r = ParseYamlDocuments("? [a]\n: 1\n", "k.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "k.yaml:1:3: mapping keys must be scalars");
}

TEST(YamlCodec, BadExplicitTag) {
  auto r = ParseYamlDocuments("x: !!int abc\n", "tag.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "tag.yaml:1:4: \"abc\" is not a valid !!int");
}

TEST(YamlCodec, AliasesExpand) {
  json::value v = ParseOne("base: &b {x: 1}\ncopy: *b\n");
  EXPECT_EQ(json::serialize(v), R"({"base":{"x":1},"copy":{"x":1}})");
}

TEST(YamlCodec, AliasBombIsRefused) {
  std::string bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  std::string prev = "a";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string name(1, c);
    bomb += name + ": &" + name + " [";
    for (int i = 0; i < 9; ++i) bomb += (i ? ",*" : "*") + prev;
    bomb += "]\n";
    prev = name;
  }
  auto r = ParseYamlDocuments(bomb, "bomb.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find(": more than 2000000 nodes after expanding aliases"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().rfind("bomb.yaml:", 0), 0u);
}

TEST(YamlCodec, DeepNestingIsRefused) {
  std::string deep(300, '[');
  deep += std::string(300, ']');
  auto r = ParseYamlDocuments(deep, "deep.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "deep.yaml:1:258: nested deeper than 256 levels");
}

TEST(YamlCodec, HugeInputIsRefused) {
  std::string huge((32u << 20) + 1, '#');
  auto r = ParseYamlDocuments(huge, "huge.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(r.status().message(), "huge.yaml: input is 33554433 bytes, over the 33554432-byte limit");
}

TEST(YamlCodec, GarbageNeverThrows) {
  const char* inputs[] = {"{", "]", "\t- x\n", "a: 'x\n", "%YAML 9.9\n---\na: 1\n", "- - - [\n", "&a *a\n",
                          "a: !<tag:yaml.org,2002:int> 0x\n", "? \n: \n"};
  for (const char* in : inputs) {
    EXPECT_NO_THROW((void)ParseYamlDocuments(in, "g.yaml")) << in;
  }
  const std::string with_nul("a: \0b\n", 6);
  EXPECT_NO_THROW((void)ParseYamlDocuments(with_nul, "g.yaml"));
}

TEST(YamlCodec, DecodeErrorNamesTheLineOfTheField) {
  const char* text =
      "apiVersion: tuna.ai/v1alpha1\n"
      "kind: AgentEnvironment\n"
      "metadata:\n"
      "  name: py\n"
      "spec:\n"
      "  runtime: python3.11\n"
      "  poolSize: three\n";
  auto r = DecodeYamlResources(text, "env.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "env.yaml:7: spec.poolSize: expected integer, got string");
  EXPECT_EQ(r.status().field(), "spec.poolSize");
}

TEST(YamlCodec, MissingFieldErrorUsesTheParentsLineInTheRightDocument) {
  const char* text =
      "apiVersion: tuna.ai/v1alpha1\n"
      "kind: AgentMemory\n"
      "metadata: {name: m}\n"
      "spec: {type: kv}\n"
      "---\n"
      "apiVersion: tuna.ai/v1alpha1\n"
      "kind: AgentDeployment\n"
      "metadata:\n"
      "  name: echo\n"
      "spec:\n"
      "  environmentName: py\n"
      "  stages:\n"
      "    staging:\n"
      "      entrypoint: main.py\n";
  auto r = DecodeYamlResources(text, "multi.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "multi.yaml:13: spec.stages.staging.source: required field is missing");
}

TEST(YamlCodec, EnvelopeErrorsAreLocatedToo) {
  auto r = DecodeYamlResources("apiVersion: tuna.ai/v1alpha1\nkind: AgentDeploymnt\nmetadata: {name: x}\n", "k.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "k.yaml:2: kind: unknown kind \"AgentDeploymnt\" (did you mean AgentDeployment?)");
}

TEST(YamlCodec, DecodesEveryDocument) {
  auto r = DecodeYamlResources(
      "apiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata: {name: a, namespace: default}\nspec: {type: kv}\n"
      "---\n"
      "apiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata: {name: b, namespace: default}\nspec: {type: conversation}\n",
      "two.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].metadata.name, "b");
}

TEST(YamlCodec, EmitsReadableBlockYaml) {
  json::value v = json::parse(R"({"kind":"X","metadata":{"name":"a","labels":{}},"spec":{"list":[1,"two",{"k":"v","w":[]}],
    "text":"l1\nl2\n","flag":true,"none":null}})");
  EXPECT_EQ(EncodeYamlValue(v),
            "kind: X\n"
            "metadata:\n"
            "  name: a\n"
            "  labels: {}\n"
            "spec:\n"
            "  list:\n"
            "    - 1\n"
            "    - two\n"
            "    - k: v\n"
            "      w: []\n"
            "  text: |\n"
            "    l1\n"
            "    l2\n"
            "  flag: true\n"
            "  none: null\n");
}

TEST(YamlCodec, EmittedYamlParsesBackToTheSameValue) {
  json::value v = json::parse(R"({
    "strings": ["", "true", "True", "null", "~", "123", "-5", "1.5", "1e3", "0x10", ".inf", "yes", "no", "on",
                "a: b", "- x", "-x", "#c", "x #c", "x:", "trailing ", " leading", "tab\there", "quote\"s", "back\\slash",
                "ünïcødé ✓", "multi\nline", "multi\nline\n", "two\n\n", "\nleading newline", "  indented\nblock",
                "...", "---", "[flow]", "{flow}", "*alias", "&anchor", "!tag", "|", ">", "%", "@", "`", "a,b", "<<", "=",
                "crlf\r\nline", "ctl\u0001", "2023-12-01T12:00:00Z", "blank\n  \nline"],
    "numbers": [0, -1, 9223372036854775807, 18446744073709551615, 1.5, -0.25, 1e300],
    "nested": [[1, [2, []]], {}, [{"a": {"b": [{"c": null}]}}]],
    "keys": {"": 1, "a: b": 2, "true": 3, "-": 4, "multi\nline": 5, "with space": 6},
    "bools": [true, false], "null": null})");
  std::string yaml = EncodeYamlValue(v);
  auto docs = ParseYamlDocuments(yaml, "emit.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString() << "\n" << yaml;
  ASSERT_EQ(docs->size(), 1u) << yaml;
  EXPECT_EQ((*docs)[0].value, v) << yaml;
}

TEST(YamlCodec, EncodeYamlRoundTripsAResource) {
  auto r = DecodeJson(R"({"apiVersion":"tuna.ai/v1alpha1","kind":"AgentBuild",
    "metadata":{"name":"echo-1","namespace":"default","labels":{"app":"echo"},
      "ownerReferences":[{"apiVersion":"tuna.ai/v1alpha1","kind":"AgentDeployment","name":"echo","uid":"u1","controller":true}]},
    "spec":{"buildTarget":"staging","source":{"repo":"echo","ref":"main"}},
    "status":{"phase":"Running","logTail":"step 1\nstep 2\n"}})");
  ASSERT_TRUE(r.ok());
  std::string yaml = EncodeYaml(*r);
  EXPECT_EQ(yaml.rfind("apiVersion: tuna.ai/v1alpha1\nkind: AgentBuild\nmetadata:\n", 0), 0u) << yaml;
  auto back = DecodeYamlResources(yaml, "b.yaml");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0], *r);
}

TEST(YamlCodec, ScalarDocuments) {
  EXPECT_EQ(EncodeYamlValue(json::value(5)), "5\n");
  EXPECT_EQ(EncodeYamlValue(json::value("true")), "\"true\"\n");
  EXPECT_EQ(EncodeYamlValue(json::array()), "[]\n");
  json::value text("a\nb\n");
  auto docs = ParseYamlDocuments(EncodeYamlValue(text), "s.yaml");
  ASSERT_TRUE(docs.ok());
  EXPECT_EQ((*docs)[0].value, text);
}

}  // namespace
}  // namespace tuna
