#pragma once
// Private: how the CLI prints resources: kubectl-like tables (with per-kind columns), names,
// YAML, JSON, and the human-readable `describe` text.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "tuna/events.hpp"
#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"

namespace tuna::cli {

enum class OutputFormat { kTable, kWide, kYaml, kJson, kName };

/// Parses -o: "", "wide", "yaml", "json", "name".
Result<OutputFormat> ParseOutputFormat(std::string_view text);

using TimePoint = std::chrono::system_clock::time_point;

/// kubectl's short human duration: "45s", "3m20s", "5h", "2d3h", "90d", "3y".
std::string HumanDuration(std::chrono::seconds d);

/// Age of an RFC 3339 timestamp at `now` ("<unknown>" when unparsable).
std::string Age(std::string_view rfc3339, TimePoint now);

/// Parses "2026-11-26T11:00:00Z" (fractional seconds and offsets accepted).
bool ParseRfc3339(std::string_view text, TimePoint& out);

/// "agentdeployment.tuna.ai/echo"
std::string QualifiedName(const Resource& r);

/// A table of text cells.
struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
};

/// Column headers for a kind ("NAME", per-kind columns, "AGE"; NAMESPACE first with -A).
std::vector<std::string> TableHeaders(const KindInfo& kind, bool wide, bool with_namespace);
/// One row for `r`, matching TableHeaders.
std::vector<std::string> TableRow(const Resource& r, const KindInfo& kind, bool wide, bool with_namespace,
                                  TimePoint now);
/// Renders left-aligned columns separated by three spaces (no trailing spaces); with
/// `min_widths`, columns are at least that wide (keeps watch rows aligned with the header).
std::string RenderTable(const Table& table, const std::vector<std::size_t>& min_widths = {});
/// Column widths RenderTable would use.
std::vector<std::size_t> ColumnWidths(const Table& table);

/// -o yaml of several objects: documents separated by "---" (re-appliable with `tuna apply`).
std::string FormatYaml(const std::vector<Resource>& items);
/// -o json: one object, or a {"kind":"List","items":[...]} for several (`tuna apply` reads both).
std::string FormatJson(const std::vector<Resource>& items, bool as_list);

/// The text of `tuna describe`.
std::string Describe(const Resource& r, TimePoint now, const std::vector<ObjectEvent>* events = nullptr);

}  // namespace tuna::cli
