// COCO reading (against hand-written expectations and Python's json module) and writing
// corrected copies (byte-exact splices, checked by re-reading and by the json oracle).
#include <coreclean/core/error.h>
#include <coreclean/detect/coco.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "detect/coco_text.h"
#include "testing/helpers.h"

namespace coreclean::detect {
namespace {

namespace fs = std::filesystem;
using Edit = AnnotationEdit;

fs::path fixture(const std::string& name) {
  return fs::path(CORECLEAN_TEST_DATA_DIR) / "coco" / name;
}

fs::path bccd() { return testing::shared_data_dir() / "bccd" / "instances.json"; }

// Skips the test when the oracle interpreter is absent (the COCO oracle needs only its json
// module, not numpy or scikit-learn).
#define CORECLEAN_REQUIRE_PYTHON()                                                      \
  do {                                                                                  \
    if (!fs::exists(CORECLEAN_ORACLE_PYTHON))                                           \
      GTEST_SKIP() << "oracle interpreter " << CORECLEAN_ORACLE_PYTHON << " is absent"; \
  } while (false)

nlohmann::json oracle(const std::vector<std::string>& args) {
  return nlohmann::json::parse(testing::run_oracle("coco_stats.py", args));
}

// The oracle's statistics, computed the same way (same order, float64) from a parsed dataset.
nlohmann::json stats_of(const CocoDataset& d) {
  nlohmann::json per_category = nlohmann::json::object();
  std::int64_t crowd = 0, nonfinite = 0, image_ids = 0, annotation_ids = 0;
  double checksum = 0.0;
  for (const auto& a : d.annotations) {
    const std::string key = std::to_string(a.category_id);
    per_category[key] = per_category.value(key, 0) + 1;
    crowd += a.iscrowd ? 1 : 0;
    const double values[4] = {a.bbox.x, a.bbox.y, a.bbox.w, a.bbox.h};
    for (int j = 0; j < 4; ++j) {
      if (std::isfinite(values[j])) {
        checksum += (j + 1) * values[j];
      } else {
        ++nonfinite;
      }
    }
    annotation_ids += a.id;
  }
  for (const auto& i : d.images) image_ids += i.id;
  return {{"images", d.images.size()},
          {"annotations", d.annotations.size()},
          {"categories", d.categories.size()},
          {"per_category", per_category},
          {"crowd", crowd},
          {"bbox_checksum", checksum},
          {"nonfinite", nonfinite},
          {"image_ids_sum", image_ids},
          {"annotation_ids_sum", annotation_ids}};
}

void expect_same_dataset(const CocoDataset& a, const CocoDataset& b) {
  ASSERT_EQ(a.images.size(), b.images.size());
  ASSERT_EQ(a.annotations.size(), b.annotations.size());
  ASSERT_EQ(a.categories.size(), b.categories.size());
  for (std::size_t i = 0; i < a.images.size(); ++i) {
    EXPECT_EQ(a.images[i].id, b.images[i].id);
    EXPECT_EQ(a.images[i].file_name, b.images[i].file_name);
    EXPECT_EQ(a.images[i].width, b.images[i].width);
    EXPECT_EQ(a.images[i].height, b.images[i].height);
  }
  for (std::size_t i = 0; i < a.annotations.size(); ++i) {
    const auto &x = a.annotations[i], &y = b.annotations[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.image_id, y.image_id);
    EXPECT_EQ(x.category_id, y.category_id);
    EXPECT_EQ(x.iscrowd, y.iscrowd);
    for (auto [p, q] : {std::pair{x.bbox.x, y.bbox.x}, std::pair{x.bbox.y, y.bbox.y},
                        std::pair{x.bbox.w, y.bbox.w}, std::pair{x.bbox.h, y.bbox.h},
                        std::pair{x.area, y.area}}) {
      if (std::isnan(p)) {
        EXPECT_TRUE(std::isnan(q));
      } else {
        EXPECT_EQ(p, q);
      }
    }
  }
  for (std::size_t i = 0; i < a.categories.size(); ++i) {
    EXPECT_EQ(a.categories[i].id, b.categories[i].id);
    EXPECT_EQ(a.categories[i].name, b.categories[i].name);
    EXPECT_EQ(a.categories[i].supercategory, b.categories[i].supercategory);
  }
}

std::string read_error(const fs::path& path) {
  return testing::error_of<FormatError>([&] { read_coco(path); });
}

std::string parse_error(const std::string& json) {
  return testing::error_of<FormatError>([&] { parse_coco(json, "mem.json"); });
}

// ---------------------------------------------------------------------------------------------
// Reading

// Every field pycocotools uses comes out as written; unknown fields, key order, nesting, escapes,
// number spellings (5e1, 2.0, -0.0) and null supercategory are all handled.
TEST(CocoReader, ValidFixtureExactValues) {
  const CocoDataset d = read_coco(fixture("valid.json"));
  ASSERT_EQ(d.images.size(), 3u);
  EXPECT_EQ(d.images[0].id, 10);
  EXPECT_EQ(d.images[0].file_name, "a.jpg");
  EXPECT_EQ(d.images[0].width, 640);
  EXPECT_EQ(d.images[0].height, 480);
  EXPECT_EQ(d.images[1].file_name, "sub/b.png");
  EXPECT_EQ(d.images[2].id, 12);
  EXPECT_EQ(d.images[2].width, 200);
  EXPECT_EQ(d.images[2].height, 100);

  ASSERT_EQ(d.annotations.size(), 5u);
  const auto& a0 = d.annotations[0];
  EXPECT_EQ(a0.id, 1);
  EXPECT_EQ(a0.image_id, 10);
  EXPECT_EQ(a0.category_id, 1);
  EXPECT_EQ(a0.bbox.x, 10.5);
  EXPECT_EQ(a0.bbox.y, 20.25);
  EXPECT_EQ(a0.bbox.w, 30.0);
  EXPECT_EQ(a0.bbox.h, 40.0);
  EXPECT_EQ(a0.area, 1200.0);
  EXPECT_FALSE(a0.iscrowd);
  const auto& a1 = d.annotations[1];  // keys in reverse order, RLE segmentation
  EXPECT_EQ(a1.id, 2);
  EXPECT_TRUE(a1.iscrowd);
  EXPECT_EQ(a1.category_id, 2);
  EXPECT_EQ(a1.area, 5000.0);
  const auto& a2 = d.annotations[2];  // no iscrowd, no area
  EXPECT_FALSE(a2.iscrowd);
  EXPECT_EQ(a2.area, 0.0);
  EXPECT_EQ(a2.bbox.w, 50.0);
  EXPECT_EQ(a2.bbox.h, 25.0);
  EXPECT_EQ(d.annotations[3].id, 900100000004);  // COCO's crowd ids exceed 32 bits
  EXPECT_FALSE(d.annotations[3].iscrowd);        // iscrowd: false
  EXPECT_EQ(d.annotations[4].category_id, 2);    // 2.0
  EXPECT_EQ(d.annotations[4].bbox.x, 0.0);
  EXPECT_TRUE(std::signbit(d.annotations[4].bbox.x));  // -0.0 kept

  ASSERT_EQ(d.categories.size(), 3u);
  EXPECT_EQ(d.categories[0].supercategory, "human");
  EXPECT_EQ(d.categories[1].supercategory, "");
  EXPECT_EQ(d.categories[2].name, "caf\xC3\xA9");
  EXPECT_EQ(d.categories[2].supercategory, "");

  EXPECT_EQ(d.image_index(11), 1u);
  EXPECT_EQ(d.category_index(3), 2u);
  EXPECT_EQ(d.annotation_index(900100000004), 3u);
  EXPECT_FALSE(d.image_index(13).has_value());
}

// parse_coco on text gives the same dataset as read_coco on the file.
TEST(CocoReader, ParseTextEqualsReadFile) {
  const CocoDataset a = read_coco(fixture("valid.json"));
  const CocoDataset b = parse_coco(testing::read_text(fixture("valid.json")));
  expect_same_dataset(a, b);
}

// The parser agrees with Python's json module (counts, per-class counts, crowd counts, a bbox
// checksum, id sums) on the fixtures, including NaN and ±Infinity values Python writes.
TEST(CocoReader, AgreesWithPythonOracleOnFixtures) {
  CORECLEAN_REQUIRE_PYTHON();
  for (const char* name : {"valid.json", "checks.json"}) {
    SCOPED_TRACE(name);
    const nlohmann::json expected = oracle({"stats", fixture(name).string()});
    EXPECT_EQ(stats_of(read_coco(fixture(name))), expected);
  }
  EXPECT_EQ(stats_of(read_coco(fixture("checks.json")))["nonfinite"], 3);
}

// ... and on the real BCCD set (4,888 boxes).
TEST(CocoReader, AgreesWithPythonOracleOnBccd) {
  CORECLEAN_REQUIRE_SHARED_DATA();
  CORECLEAN_REQUIRE_PYTHON();
  const CocoDataset d = read_coco(bccd());
  EXPECT_EQ(d.images.size(), 364u);
  EXPECT_EQ(d.annotations.size(), 4888u);
  EXPECT_EQ(d.categories.size(), 3u);
  const nlohmann::json expected = oracle({"stats", bccd().string()});
  EXPECT_EQ(expected["per_category"], (nlohmann::json{{"1", 4155}, {"2", 372}, {"3", 361}}));
  EXPECT_EQ(stats_of(d), expected);
}

// Parsing in windows is an implementation detail: any window size gives the same dataset, the
// same annotation spans and the same errors.
TEST(CocoReader, WindowSizeDoesNotChangeResult) {
  std::vector<fs::path> files = {fixture("valid.json"), fixture("checks.json")};
  if (!testing::shared_data_dir().empty()) files.push_back(bccd());
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    const std::string text = testing::read_text(file);
    const detail::CocoText coco{nullptr, text, false};
    std::vector<detail::AnnotationSpan> reference_spans;
    const CocoDataset reference = detail::parse_coco_text(coco, "f", &reference_spans);
    for (std::size_t window : {1u, 2u, 7u, 64u, 1000u, 100000u}) {
      SCOPED_TRACE(window);
      std::vector<detail::AnnotationSpan> spans;
      const CocoDataset d = detail::parse_coco_text(coco, "f", &spans, window);
      expect_same_dataset(reference, d);
      ASSERT_EQ(spans.size(), reference_spans.size());
      for (std::size_t i = 0; i < spans.size(); ++i) {
        EXPECT_EQ(spans[i].begin, reference_spans[i].begin);
        EXPECT_EQ(spans[i].end, reference_spans[i].end);
        EXPECT_EQ(spans[i].category_begin, reference_spans[i].category_begin);
        EXPECT_EQ(spans[i].category_end, reference_spans[i].category_end);
      }
    }
  }
  for (const char* name : {"syntax_error.json", "missing_bbox.json", "duplicate_ids.json"}) {
    const std::string text = testing::read_text(fixture(name));
    const std::string reference = read_error(fixture(name));
    for (std::size_t window : {1u, 5u, 64u}) {
      const std::string message = testing::error_of<FormatError>([&] {
        detail::parse_coco_text(detail::CocoText{nullptr, text, false}, fixture(name).string(),
                                nullptr, window);
      });
      EXPECT_EQ(message, reference) << name << " window " << window;
    }
  }
}

// Each span covers exactly one annotation object and its category_id value.
TEST(CocoReader, AnnotationSpansCoverObjects) {
  const std::string text = testing::read_text(fixture("valid.json"));
  std::vector<detail::AnnotationSpan> spans;
  const CocoDataset d = detail::parse_coco_text({nullptr, text, false}, "valid.json", &spans);
  ASSERT_EQ(spans.size(), 5u);
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const std::string object = text.substr(spans[i].begin, spans[i].end - spans[i].begin);
    EXPECT_EQ(object.front(), '{');
    EXPECT_EQ(object.back(), '}');
    const CocoDataset one =
        parse_coco(R"({"images": [], "categories": [], "annotations": [)" + object + "]}");
    EXPECT_EQ(one.annotations.at(0).id, d.annotations[i].id);
  }
  EXPECT_EQ(text.substr(spans[4].category_begin, spans[4].category_end - spans[4].category_begin),
            "2.0");
  EXPECT_EQ(text.substr(spans[1].category_begin, spans[1].category_end - spans[1].category_begin),
            "2");
}

// A syntax error is reported with the file, line, column and byte offset — the position
// Python's json module reports.
TEST(CocoReader, SyntaxErrorNamesFileLineColumn) {
  const std::string message = read_error(fixture("syntax_error.json"));
  EXPECT_TRUE(testing::contains(message, fixture("syntax_error.json").string() + ": invalid JSON"));
  EXPECT_TRUE(testing::contains(message, "line 7, column 5 (byte offset 176)"));
  EXPECT_TRUE(testing::contains(message, "expected ',' or ']' after an array element, found '{'"));
}

// Line and column agree with Python's json.JSONDecodeError for many kinds of malformed input.
TEST(CocoReader, SyntaxErrorPositionsMatchPython) {
  CORECLEAN_REQUIRE_PYTHON();
  const std::string ok_head = R"({"images": [], "categories": [], "annotations": [)";
  const std::vector<std::string> cases = {
      "",
      "   \n  ",
      "{",
      "{\"images\": [}",
      "{\"images\" []}",
      "{\"images\": [],}",
      "{\"images\": [1 2]}",
      "{\"images\": [1,]}",
      ok_head + "{\"id\": 1,\n \"bbox\": [1, 2, 3, 4}]}",
      ok_head + "]} extra",
      ok_head + "]}\n\n  {}",
      ok_head + "{\"id\": \"abc}]}",
      ok_head + "{\"id\": \"a\\qb\"}]}",
      ok_head + "{\"id\": \"a\tb\"}]}",
      ok_head + "{\"id\": 01}]}",
      ok_head + "{\"id\": 1.}]}",
      ok_head + "{\"id\": -}]}",
      ok_head + "{\"id\": tru}]}",
      ok_head + "{\"id\": nan}]}",
      ok_head + "{\"id\": 1, \"x\": {\"a\": [1, 2, {\"b\" 3}]}}]}",
      "{\"info\": {\"a\": 1,\n\n     \"b\": 2,, \"c\": 3}}",
      "[1, 2",
      "\"just a string",
  };
  testing::TempDir dir;
  for (std::size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(cases[k]);
    const fs::path file = dir / ("case" + std::to_string(k) + ".json");
    testing::write_text(file, cases[k]);
    const nlohmann::json py = oracle({"error", file.string()});
    ASSERT_FALSE(py["ok"].get<bool>());
    // Newer Pythons point at the comma itself for a trailing comma.
    if (py["message"].get<std::string>().rfind("Illegal trailing comma", 0) == 0) continue;
    const std::string message = read_error(file);
    EXPECT_TRUE(
        testing::contains(message, "line " + std::to_string(py["line"].get<int>()) + ", column " +
                                       std::to_string(py["column"].get<int>()) + " (byte offset " +
                                       std::to_string(py["offset"].get<int>()) + ")"))
        << "python: " << py.dump();
  }
}

// Randomly damaged copies of the fixtures are accepted exactly when Python's json module accepts
// them, and otherwise refused at the line and column Python names — whatever the window size.
TEST(CocoReader, DamagedFilesAgreeWithPython) {
  CORECLEAN_REQUIRE_PYTHON();
  std::mt19937 rng(11);
  const std::vector<std::string> pieces = {
      "{", "}", "[", "]", ",", ":", "\"", "\\", " ", "0",  "7",  ".",  "e",        "E",
      "+", "-", "t", "f", "n", "N", "I",  "a",  "u", "\n", "\t", "\r", "\xC3\xA9", "\x01"};
  testing::TempDir dir;
  std::vector<std::string> args = {"errors"};
  std::vector<std::string> texts;
  for (const char* base : {"valid.json", "checks.json"}) {
    const std::string original = testing::read_text(fixture(base));
    for (int k = 0; k < 150; ++k) {
      std::string t = original;
      for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits) {
        std::size_t at = rng() % t.size();
        // Keep multi-byte characters whole: Python reads text, not bytes.
        while (at > 0 && (static_cast<unsigned char>(t[at]) & 0xC0) == 0x80) --at;
        const std::size_t width = (static_cast<unsigned char>(t[at]) & 0xE0) == 0xC0 ? 2 : 1;
        const std::string piece = pieces[rng() % pieces.size()];
        switch (rng() % 3) {
          case 0:
            t.erase(at, width);
            break;
          case 1:
            t.insert(at, piece);
            break;
          default:
            t.replace(at, width, piece);
        }
      }
      const fs::path file = dir / ("damaged" + std::to_string(texts.size()) + ".json");
      testing::write_text(file, t);
      args.push_back(file.string());
      texts.push_back(t);
    }
  }
  const nlohmann::json verdicts = oracle(args);
  ASSERT_EQ(verdicts.size(), texts.size());
  int accepted = 0;
  for (std::size_t k = 0; k < texts.size(); ++k) {
    SCOPED_TRACE(args[k + 1]);
    std::string reference;
    for (std::size_t window : {detail::kDefaultWindowBytes, std::size_t{1}, std::size_t{16}}) {
      std::string message;
      try {
        detail::parse_coco_text({nullptr, texts[k], false}, "d.json", nullptr, window);
      } catch (const FormatError& e) {
        message = e.what();
      }
      if (window == detail::kDefaultWindowBytes) {
        reference = message;
      } else {
        EXPECT_EQ(message, reference) << "window " << window;
      }
    }
    const nlohmann::json& py = verdicts[k];
    if (py["ok"].get<bool>()) {
      ++accepted;
      EXPECT_FALSE(testing::contains(reference, "invalid JSON")) << reference;
    } else {
      EXPECT_TRUE(
          testing::contains(reference, fmt::format("invalid JSON at line {}, column {} ",
                                                   py["line"].get<int>(), py["column"].get<int>())))
          << reference << "\npython: " << py.dump();
    }
  }
  // Both outcomes are exercised.
  EXPECT_GT(accepted, 30);
  EXPECT_LT(accepted, 270);
}

// Invalid UTF-8 is refused with its position.
TEST(CocoReader, InvalidUtf8Refused) {
  const std::string message =
      parse_error("{\"images\": [{\"id\": 1, \"file_name\": \"a\xFF.jpg\"}]}");
  EXPECT_TRUE(
      testing::contains(message, "mem.json: invalid JSON at line 1, column 38 (byte offset 37)"));
  EXPECT_TRUE(testing::contains(message, "invalid UTF-8 byte 0xff"));
}

// A missing required field names the file, the array, the entry's index and id, and the field.
TEST(CocoReader, MissingBboxNamesEntryAndField) {
  const std::string message = read_error(fixture("missing_bbox.json"));
  EXPECT_TRUE(testing::contains(
      message, fixture("missing_bbox.json").string() +
                   ": annotations[1] (id 2): the required field 'bbox' is missing (at line 5, "
                   "column 5"))
      << message;
}

// A value of the wrong type names the field and shows the value, with the entry's id even when
// the id comes after the bad field.
TEST(CocoReader, WrongBboxTypeNamesFieldAndValue) {
  const std::string message = read_error(fixture("bbox_wrong_type.json"));
  EXPECT_TRUE(testing::contains(
      message,
      "annotations[0] (id 7): field 'bbox' must be an array of 4 numbers [x, y, width, "
      "height], found a string (\"10,20,30,40\") (at line 4, column 14"))
      << message;
}

// Other content errors, each naming what is wrong.
TEST(CocoReader, ContentErrorsNameTheProblem) {
  const std::string head = R"({"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [], )";
  struct Case {
    std::string json, expected;
  };
  const std::vector<Case> cases = {
      {"[]", "the top-level value must be an object"},
      {R"({"images": [], "categories": []})", "no 'annotations' array at the top level"},
      {R"({"images": {}, "annotations": [], "categories": []})",
       "'images' must be an array, found an object"},
      {R"({"images": [], "images": [], "annotations": [], "categories": []})",
       "the top-level key 'images' appears twice"},
      {head + R"("annotations": [7]})",
       "annotations[0]: each entry must be an object, found a "
       "number (7)"},
      {head + R"("annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]})",
       "annotations[0] (id 1): field 'bbox' must hold 4 numbers [x, y, width, height], found 3"},
      {head +
           R"("annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, "3", 4]}]})",
       "annotations[0] (id 1): field 'bbox' must be a number, found a string (\"3\")"},
      {head +
           R"("annotations": [{"id": 1.5, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]})",
       "annotations[0]: field 'id' must be an integer, found 1.5"},
      {head +
           R"("annotations": [{"id": 1, "image_id": null, "category_id": 1, "bbox": [1, 2, 3, 4]}]})",
       "annotations[0] (id 1): field 'image_id' must be an integer, found null"},
      {head +
           R"("annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 2}]})",
       "annotations[0] (id 1): field 'iscrowd' must be 0 or 1, found a number (2)"},
      {head +
           R"("annotations": [{"id": 99999999999999999999, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]})",
       "field 'id' must be an integer within 64 bits, found 99999999999999999999"},
      {R"({"images": [{"id": 1}], "annotations": [], "categories": []})",
       "images[0] (id 1): the required field 'file_name' is missing"},
      {R"({"images": [{"id": 1, "file_name": 5}], "annotations": [], "categories": []})",
       "images[0] (id 1): field 'file_name' must be a string, found a number (5)"},
      {R"({"images": [{"id": 1, "file_name": "a", "width": -3}], "annotations": [], "categories": []})",
       "images[0] (id 1): field 'width' must be a size in pixels, found -3"},
      {R"({"images": [], "annotations": [], "categories": [{"id": 1}]})",
       "categories[0] (id 1): the required field 'name' is missing"},
      {R"({"images": [], "annotations": [], "categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]})",
       "categories[1] (id 1): duplicate id, categories[0] has the same id"},
  };
  for (const Case& c : cases) {
    const std::string message = parse_error(c.json);
    EXPECT_TRUE(testing::contains(message, "mem.json: "));
    EXPECT_TRUE(testing::contains(message, c.expected)) << c.json;
  }
}

// Duplicate annotation ids are refused, naming both entries and the line of the second.
TEST(CocoReader, DuplicateIdsRefused) {
  const std::string message = read_error(fixture("duplicate_ids.json"));
  EXPECT_TRUE(testing::contains(message,
                                "annotations[2] (id 1): duplicate id, annotations[0] has "
                                "the same id (at line 6, column 5"))
      << message;
}

// A syntax error anywhere wins over a content error earlier in the file (Python's json module
// would refuse the file before pycocotools looked at it).
TEST(CocoReader, SyntaxErrorReportedBeforeContentError) {
  const std::string message = parse_error(
      R"({"images": [{"id": 1}], "annotations": [], "categories": [{"id": 1, "name": "x",}]})");
  EXPECT_TRUE(testing::contains(message, "invalid JSON at line 1, column 81 (byte offset 80)"))
      << message;
  EXPECT_TRUE(testing::contains(message, "expected a property name in double quotes"));
}

// NaN, Infinity and -Infinity (which Python's json writes for non-finite floats) are read as
// such; judging them is the box checks' job. Numbers beyond double's range read as ±inf.
TEST(CocoReader, NonFiniteValuesReadAsPythonReadsThem) {
  const CocoDataset d = parse_coco(
      R"({"images": [], "categories": [], "annotations": [
      {"id": 1, "image_id": 1, "category_id": 1, "bbox": [NaN, Infinity, -Infinity, 1e400], "area": NaN,
       "extra": [NaN, -Infinity, 1e999, 123456789012345678901234567890]}]})");
  const Box& b = d.annotations.at(0).bbox;
  EXPECT_TRUE(std::isnan(b.x));
  EXPECT_EQ(b.y, INFINITY);
  EXPECT_EQ(b.w, -INFINITY);
  EXPECT_EQ(b.h, INFINITY);
  EXPECT_TRUE(std::isnan(d.annotations[0].area));
}

// A key repeated within an entry counts with its last value, as in Python; relabelling such an
// annotation rewrites that last value.
TEST(CocoReader, RepeatedKeyLastValueCounts) {
  const std::string text =
      R"({"images": [], "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
          "annotations": [{"id": 1, "category_id": 2, "image_id": 1, "bbox": [1, 2, 3, 4],
                           "category_id": 1, "bbox": [5, 6, 7, 8]}]})";
  const CocoDataset d = parse_coco(text);
  EXPECT_EQ(d.annotations.at(0).category_id, 1);
  EXPECT_EQ(d.annotations[0].bbox.x, 5.0);
  std::string expected = text;
  expected.replace(expected.find("\"category_id\": 1,"), 17, "\"category_id\": 2,");
  testing::TempDir dir;
  testing::write_text(dir / "in.json", text);
  const AnnotationEdit edit{1, AnnotationEdit::Kind::kRelabel, 2};
  write_corrected_coco(dir / "in.json", dir / "out.json", std::span(&edit, 1));
  EXPECT_EQ(testing::read_text(dir / "out.json"), expected);
  EXPECT_EQ(read_coco(dir / "out.json").annotations.at(0).category_id, 2);
}

// Keys are compared after unescaping, as Python does; a byte-order mark is tolerated.
TEST(CocoReader, EscapedKeysAndByteOrderMark) {
  const CocoDataset d = parse_coco(
      "\xEF\xBB\xBF{\"\\u0069mages\": [{\"id\": 4, \"file_\\u006eame\": \"a\\/b.jpg\"}], "
      "\"annotations\": [], \"categories\": []}");
  ASSERT_EQ(d.images.size(), 1u);
  EXPECT_EQ(d.images[0].id, 4);
  EXPECT_EQ(d.images[0].file_name, "a/b.jpg");
}

// A file that cannot be opened is an IoError naming the path; an empty file a FormatError.
TEST(CocoReader, UnreadableAndEmptyFiles) {
  testing::TempDir dir;
  const std::string io = testing::error_of<IoError>([&] { read_coco(dir / "absent.json"); });
  EXPECT_TRUE(testing::contains(io, (dir / "absent.json").string()));
  testing::write_text(dir / "empty.json", "");
  EXPECT_TRUE(testing::contains(read_error(dir / "empty.json"),
                                "empty.json: invalid JSON at line 1, column 1 (byte offset 0): "
                                "expected a value, found the end of the file"));
}

// Nesting is limited to 512 levels (the root object is level 1): 100,000 levels, which used to
// overflow the stack, are refused with the file and the byte offset of the first bracket too deep,
// in an unused top-level key as inside an entry; 512 levels, mixed arrays and objects, are read.
TEST(CocoReader, DeepNestingRefusedAtTheLimit) {
  const std::string tail = R"(, "images": [], "annotations": [], "categories": []})";
  const auto nested = [](int levels) {
    std::string v;
    for (int j = 0; j < levels; ++j) v += j % 2 == 0 ? "[" : "{\"k\": ";
    v += "0";
    for (int j = levels - 1; j >= 0; --j) v += j % 2 == 0 ? "]" : "}";
    return v;
  };
  testing::TempDir dir;
  testing::write_text(dir / "deep.json",
                      "{\"info\": " + std::string(100000, '[') + std::string(100000, ']') + tail);
  EXPECT_TRUE(testing::contains(read_error(dir / "deep.json"),
                                (dir / "deep.json").string() +
                                    ": arrays and objects are nested deeper than 512 levels (the "
                                    "limit for COCO files) (at line 1, column 521 (byte offset "
                                    "520))"));
  const std::string in_entry = R"({"images": [{"id": 1, "file_name": "a.jpg", "extra": )" +
                               nested(100000) + "}]" + R"(, "annotations": [], "categories": []})";
  EXPECT_TRUE(testing::contains(parse_error(in_entry), "nested deeper than 512 levels"));
  // 512 levels: the root, "info" and 510 more; and 512 inside an entry (root, array, entry, 509).
  EXPECT_NO_THROW(parse_coco("{\"info\": " + nested(511) + tail, "ok.json"));
  const std::string at_limit = R"({"images": [{"id": 1, "file_name": "a.jpg", "extra": )" +
                               nested(509) + "}]" + R"(, "annotations": [], "categories": []})";
  const CocoDataset d = parse_coco(at_limit, "ok.json");
  ASSERT_EQ(d.images.size(), 1u);
  EXPECT_EQ(d.images[0].file_name, "a.jpg");
  EXPECT_TRUE(testing::contains(
      parse_error(R"({"images": [{"id": 1, "file_name": "a.jpg", "extra": )" + nested(510) + "}]" +
                  R"(, "annotations": [], "categories": []})"),
      "nested deeper than 512 levels"));
}

// Values the reader does not use are still checked at any depth (within the limit).
TEST(CocoReader, NestedUnusedValuesAreChecked) {
  const std::string head = R"({"images": [], "categories": [], "annotations": [{"id": 1, )"
                           R"("image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "x": )";
  EXPECT_NO_THROW(parse_coco(head + R"([{"a": [1, NaN, "\u00e9", true, null, {}]}, []]}]})", "m"));
  EXPECT_TRUE(testing::contains(parse_error(head + R"([{"a": [1, 01]}]}]})"), "invalid JSON"));
  EXPECT_TRUE(testing::contains(parse_error(head + R"([{"a": ["\x"]}]}]})"), "invalid escape"));
}

// Lone UTF-16 surrogate escapes, which Python reads: in a key they make a field coreclean does
// not know (so a required field can be missing), in a string coreclean uses they are refused as
// a problem of that field, at its place; in values coreclean does not use they are fine. The
// result never depends on the window size (simdjson refused the whole window, whose start the
// message then named).
TEST(CocoReader, LoneSurrogateEscapesReadAsPythonReadsThem) {
  const std::string head = R"({"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [],)";
  const std::string key_case =
      head +
      R"( "annotations": [{"id": 4, "image_id": 1, "ca\udc00tegory_id": 1, "bbox": [1, 2, 3, 4]}]})";
  const std::string value_case =
      R"({"images": [{"id": 1, "file_name": "a\ud800.jpg"}], "categories": [], "annotations": []})";
  const std::string unused_case =
      head + R"( "annotations": [], "info": {"x\udc00": "\ud800", "\u0069d": 1}})";
  for (const std::size_t window : {std::size_t{8}, std::size_t{64}, detail::kDefaultWindowBytes}) {
    const auto error = [&](const std::string& json) {
      return testing::error_of<FormatError>([&] {
        (void)detail::parse_coco_text(detail::CocoText{nullptr, json, false}, "mem.json", nullptr,
                                      window);
      });
    };
    EXPECT_TRUE(testing::contains(error(key_case),
                                  "mem.json: annotations[0] (id 4): the required field "
                                  "'category_id' is missing (at line 1, column 81"));
    EXPECT_TRUE(
        testing::contains(error(value_case),
                          "mem.json: images[0] (id 1): field 'file_name' holds a lone UTF-16 "
                          "surrogate escape (\\ud800 to \\udfff without its pair), which is "
                          "not a character: \"a\\ud800.jpg\" (at line 1, column 36"));
    EXPECT_NO_THROW((void)detail::parse_coco_text(detail::CocoText{nullptr, unused_case, false},
                                                  "mem.json", nullptr, window));
  }
  // An escaped key that spells a known field is that field; a pair of surrogates is a character.
  const CocoDataset d = parse_coco(
      R"({"images": [{"\u0069d": 5, "file_name": "\ud83d\ude00.jpg"}], "categories": [],)"
      R"( "annotations": []})",
      "mem.json");
  ASSERT_EQ(d.images.size(), 1u);
  EXPECT_EQ(d.images[0].id, 5);
  EXPECT_EQ(d.images[0].file_name, "\xF0\x9F\x98\x80.jpg");
}

// A file_name holding a NUL ("a.jpg\u0000.txt") would be cut at the NUL by every file API and
// name another file: it is refused, naming the image, its id and the field.
TEST(CocoReader, FileNameWithNulRefused) {
  const std::string message = parse_error(
      R"({"images": [{"id": 1, "file_name": "1.jpg"}, {"id": 7, "file_name": "000001.jpg\u0000.txt"}],)"
      R"( "annotations": [], "categories": []})");
  EXPECT_TRUE(testing::contains(message,
                                "mem.json: images[1] (id 7): field 'file_name' holds a "
                                "NUL character (\\u0000) at character 10: "
                                "\"000001.jpg\\u0000.txt\"; file names cannot contain "
                                "one"));
}

// A file_name that leaves the images folder (absolute, or with a '..' step) would read and
// render a file outside it: refused, naming the image and the field; subfolders are fine.
TEST(CocoReader, FileNameOutsideTheImagesFolderRefused) {
  for (const char* name : {"/etc/passwd", "../secret.jpg", "train/../../x.jpg"}) {
    const std::string message = parse_error(
        std::string(R"({"images": [{"id": 3, "file_name": ")") + name +
        R"("}], "annotations": [], "categories": []})");
    EXPECT_TRUE(testing::contains(message, "images[0] (id 3): field 'file_name' is \"" +
                                               std::string(name) + "\": it must be a path inside "
                                               "the images folder"))
        << message;
  }
  const detect::CocoDataset ok = detect::parse_coco(
      R"({"images": [{"id": 1, "file_name": "train/a..b.jpg"}], "annotations": [], "categories": []})",
      "mem.json");
  EXPECT_EQ(ok.images[0].file_name, "train/a..b.jpg");
}

// A file whose size is a multiple of the page size (no zero bytes after it in the mapping) reads
// normally.
TEST(CocoReader, FileEndingAtPageBoundary) {
  testing::TempDir dir;
  std::string text = testing::read_text(fixture("valid.json"));
  text.erase(text.find_last_of('}') + 1);
  ASSERT_LT(text.size(), 8192u);
  text.insert(0, 8192 - text.size(), ' ');  // the file ends with its '}' at a page end
  testing::write_text(dir / "page.json", text);
  expect_same_dataset(read_coco(dir / "page.json"), read_coco(fixture("valid.json")));
}

// ---------------------------------------------------------------------------------------------
// Writing

const char* const kCompact =
    R"({"images":[{"id":1,"file_name":"a.jpg"}],"annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[0,0,1,1]},{"id":2,"image_id":1,"category_id":1,"bbox":[0,0,2,2]},{"id":3,"image_id":1,"category_id":1,"bbox":[0,0,3,3]}],"categories":[{"id":1,"name":"x"},{"id":2,"name":"y"}]})";

const char* const kPretty = R"({
  "images": [ {"id": 1, "file_name": "a.jpg"} ],
  "annotations": [
    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]},
    {"id": 2, "image_id": 1, "category_id" : 1 , "bbox": [0, 0, 2, 2], "x": {"y": [1.50, 2e0]}} ,
    {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 3, 3]}
  ],
  "categories": [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}]
}
)";

std::string write_edits(const std::string& input, const std::vector<Edit>& edits) {
  testing::TempDir dir;
  testing::write_text(dir / "in.json", input);
  write_corrected_coco(dir / "in.json", dir / "out.json", edits);
  std::string out = testing::read_text(dir / "out.json");
  // The result must be a COCO file again.
  parse_coco(out, "out.json");
  return out;
}

Edit del(SampleId id) { return {id, Edit::Kind::kDelete, 0}; }
Edit relabel(SampleId id, Label to) { return {id, Edit::Kind::kRelabel, to}; }

// Deleting the first, a middle, the last, two non-adjacent or all annotations of a compact
// file removes exactly those objects and one comma each; nothing else changes.
TEST(CocoWriter, DeleteFromCompactFile) {
  const std::string in = kCompact;
  const std::string a1 = R"({"id":1,"image_id":1,"category_id":1,"bbox":[0,0,1,1]})";
  const std::string a2 = R"({"id":2,"image_id":1,"category_id":1,"bbox":[0,0,2,2]})";
  const std::string a3 = R"({"id":3,"image_id":1,"category_id":1,"bbox":[0,0,3,3]})";
  const auto with = [&](const std::string& annotations) {
    std::string out = in;
    const std::string all = a1 + "," + a2 + "," + a3;
    out.replace(out.find(all), all.size(), annotations);
    return out;
  };
  EXPECT_EQ(write_edits(in, {del(1)}), with(a2 + "," + a3));
  EXPECT_EQ(write_edits(in, {del(2)}), with(a1 + "," + a3));
  EXPECT_EQ(write_edits(in, {del(3)}), with(a1 + "," + a2));
  EXPECT_EQ(write_edits(in, {del(1), del(3)}), with(a2));
  EXPECT_EQ(write_edits(in, {del(3), del(2)}), with(a1));
  EXPECT_EQ(write_edits(in, {del(1), del(2)}), with(a3));
  EXPECT_EQ(write_edits(in, {del(2), del(1), del(3)}), with(""));
  EXPECT_EQ(write_edits(in, {}), in);
}

// In a pretty-printed file the layout around the remaining elements stays as it was.
TEST(CocoWriter, DeleteFromPrettyFile) {
  const std::string in = kPretty;
  const std::string l1 = R"({"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]})";
  const std::string l2 =
      R"({"id": 2, "image_id": 1, "category_id" : 1 , "bbox": [0, 0, 2, 2], "x": {"y": [1.50, 2e0]}})";
  const std::string l3 = R"({"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 3, 3]})";
  const std::string before =
      "{\n  \"images\": [ {\"id\": 1, \"file_name\": \"a.jpg\"} ],\n"
      "  \"annotations\": [\n    ";
  const std::string after =
      "\n  ],\n  \"categories\": [{\"id\": 1, \"name\": \"x\"}, {\"id\": 2, "
      "\"name\": \"y\"}]\n}\n";
  ASSERT_EQ(before + l1 + ",\n    " + l2 + " ,\n    " + l3 + after, in);
  EXPECT_EQ(write_edits(in, {del(1)}), before + l2 + " ,\n    " + l3 + after);
  EXPECT_EQ(write_edits(in, {del(2)}), before + l1 + ",\n    " + l3 + after);
  EXPECT_EQ(write_edits(in, {del(3)}), before + l1 + ",\n    " + l2 + after);
  EXPECT_EQ(write_edits(in, {del(1), del(2), del(3)}), before + after);
  // Only element: the object goes, the whitespace around it stays.
  const std::string only =
      "{\"images\": [], \"categories\": [], \"annotations\": [ \n  " + l1 + "\n ]}";
  EXPECT_EQ(write_edits(only, {del(1)}),
            "{\"images\": [], \"categories\": [], \"annotations\": [ \n  \n ]}");
}

// Relabelling replaces exactly the category_id value; spacing, other fields and number formats
// stay byte-identical.
TEST(CocoWriter, RelabelReplacesOnlyTheValue) {
  std::string expected = kPretty;
  const std::string old_value = R"("category_id" : 1 ,)";
  expected.replace(expected.find(old_value), old_value.size(), R"("category_id" : 2 ,)");
  EXPECT_EQ(write_edits(kPretty, {relabel(2, 2)}), expected);
  // Relabel and delete together.
  std::string both = expected;
  const std::string l3 =
      " ,\n    {\"id\": 3, \"image_id\": 1, \"category_id\": 1, \"bbox\": [0, 0, 3, 3]}";
  both.erase(both.find(l3), l3.size());
  EXPECT_EQ(write_edits(kPretty, {del(3), relabel(2, 2)}), both);
  // A value written as 2.0 becomes the plain integer.
  const std::string in =
      R"({"images": [], "categories": [{"id": 7, "name": "a"}], "annotations": [{"category_id":2.0,"id":1,"image_id":1,"bbox":[1,2,3,4]}]})";
  EXPECT_EQ(
      write_edits(in, {relabel(1, 7)}),
      R"({"images": [], "categories": [{"id": 7, "name": "a"}], "annotations": [{"category_id":7,"id":1,"image_id":1,"bbox":[1,2,3,4]}]})");
}

// Bad edits are refused before anything is written.
TEST(CocoWriter, RejectsBadEdits) {
  testing::TempDir dir;
  testing::write_text(dir / "in.json", kCompact);
  const auto refuse = [&](const std::vector<Edit>& edits) {
    return testing::error_of<InvalidArgument>(
        [&] { write_corrected_coco(dir / "in.json", dir / "out.json", edits); });
  };
  EXPECT_TRUE(testing::contains(refuse({del(4)}), "edit 0: no annotation has id 4"));
  EXPECT_TRUE(testing::contains(refuse({relabel(1, 3)}),
                                "edit 0: cannot relabel annotation 1 to category 3"));
  EXPECT_TRUE(
      testing::contains(refuse({relabel(1, 2), del(1)}), "edit 1: annotation 1 is edited twice"));
  EXPECT_FALSE(fs::exists(dir / "out.json"));
  // A malformed input is a FormatError, and nothing is written either.
  testing::write_text(dir / "bad.json", "{\"images\": [");
  EXPECT_THROW(write_corrected_coco(dir / "bad.json", dir / "out.json", {}), FormatError);
  EXPECT_FALSE(fs::exists(dir / "out.json"));
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_NE(entry.path().filename().string().front(), '.') << "left behind: " << entry.path();
}

// Writing over the input itself works (the input stays mapped until the rename).
TEST(CocoWriter, InPlace) {
  testing::TempDir dir;
  testing::write_text(dir / "f.json", kCompact);
  write_corrected_coco(dir / "f.json", dir / "f.json", std::vector<Edit>{del(2), relabel(3, 2)});
  const CocoDataset d = read_coco(dir / "f.json");
  ASSERT_EQ(d.annotations.size(), 2u);
  EXPECT_EQ(d.annotations[1].id, 3);
  EXPECT_EQ(d.annotations[1].category_id, 2);
}

// On BCCD (one annotation per line): deleting the first, a middle and the last annotation and
// relabelling others gives a file that re-reads as expected, that Python's json module reads as
// the original with exactly these edits, and whose other lines are byte-identical.
TEST(CocoWriter, RoundTripOnBccd) {
  CORECLEAN_REQUIRE_SHARED_DATA();
  testing::TempDir dir;
  const std::vector<Edit> edits = {del(1),           del(2000),        del(4888), relabel(5, 3),
                                   relabel(4887, 2), relabel(3951, 2), del(2001), relabel(1999, 1)};
  write_corrected_coco(bccd(), dir / "out.json", edits);
  const CocoDataset before = read_coco(bccd());
  const CocoDataset after = read_coco(dir / "out.json");
  ASSERT_EQ(after.annotations.size(), before.annotations.size() - 4);
  EXPECT_FALSE(after.annotation_index(1));
  EXPECT_FALSE(after.annotation_index(2000));
  EXPECT_FALSE(after.annotation_index(2001));
  EXPECT_FALSE(after.annotation_index(4888));
  EXPECT_EQ(after.annotations[*after.annotation_index(5)].category_id, 3);
  EXPECT_EQ(after.annotations[*after.annotation_index(4887)].category_id, 2);
  EXPECT_EQ(after.annotations[*after.annotation_index(3951)].category_id, 2);
  EXPECT_EQ(after.annotations[*after.annotation_index(1999)].category_id, 1);
  for (const auto& a : after.annotations) {
    if (a.id == 5 || a.id == 4887 || a.id == 3951) continue;
    EXPECT_EQ(a.category_id, before.annotations[*before.annotation_index(a.id)].category_id);
  }
  CocoDataset before_rest = before, after_rest = after;
  before_rest.annotations.clear();
  after_rest.annotations.clear();
  expect_same_dataset(before_rest, after_rest);

  // Line by line: the original minus the deleted annotations' lines, with the relabelled lines
  // differing only in the category_id value.
  const auto lines = [](const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t end = text.find('\n', start);
      out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return out;
  };
  const std::vector<std::string> in = lines(testing::read_text(bccd()));
  const std::vector<std::string> out = lines(testing::read_text(dir / "out.json"));
  std::vector<std::string> expected;
  for (const std::string& line : in) {
    const auto starts = [&](SampleId id) {
      return line.rfind("{\"id\":" + std::to_string(id) + ",\"image_id\"", 0) == 0;
    };
    if (starts(1) || starts(2000) || starts(2001) || starts(4888)) continue;
    std::string l = line;
    for (auto [id, to] : {std::pair<SampleId, int>{5, 3}, {4887, 2}, {3951, 2}, {1999, 1}}) {
      if (!starts(id)) continue;
      const auto at = l.find("\"category_id\":") + 14;
      l.replace(at, 1, std::to_string(to));
    }
    expected.push_back(l);
  }
  // The last annotation's line ended without a comma; the new last one loses its comma.
  ASSERT_EQ(out.size(), expected.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] != expected[i]) {
      EXPECT_EQ(out[i] + ",", expected[i]) << "line " << i + 1;
    }
  }

  CORECLEAN_REQUIRE_PYTHON();
  nlohmann::json edit_list = nlohmann::json::array();
  for (const Edit& e : edits) {
    if (e.kind == Edit::Kind::kDelete) {
      edit_list.push_back({{"id", e.annotation_id}, {"delete", true}});
    } else {
      edit_list.push_back({{"id", e.annotation_id}, {"category_id", e.category_id}});
    }
  }
  testing::write_text(dir / "edits.json", edit_list.dump());
  const nlohmann::json verdict = oracle(
      {"edited", bccd().string(), (dir / "out.json").string(), (dir / "edits.json").string()});
  EXPECT_TRUE(verdict["equal"].get<bool>()) << verdict.dump();
}

// The json oracle also agrees on the pretty fixture with unknown fields (key order included).
TEST(CocoWriter, OracleAgreesOnFixture) {
  CORECLEAN_REQUIRE_PYTHON();
  testing::TempDir dir;
  const std::vector<Edit> edits = {del(1), relabel(3, 1), del(5)};
  write_corrected_coco(fixture("valid.json"), dir / "out.json", edits);
  testing::write_text(
      dir / "edits.json",
      R"([{"id": 1, "delete": true}, {"id": 3, "category_id": 1}, {"id": 5, "delete": true}])");
  const nlohmann::json verdict =
      oracle({"edited", fixture("valid.json").string(), (dir / "out.json").string(),
              (dir / "edits.json").string()});
  EXPECT_TRUE(verdict["equal"].get<bool>()) << verdict.dump();
}

}  // namespace
}  // namespace coreclean::detect
