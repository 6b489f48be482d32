// `tuna get` and `tuna describe`.

#include <algorithm>
#include <ostream>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"

namespace tuna::cli {
namespace {

constexpr std::int64_t kPageSize = 500;

std::string NotFoundIn(const KindInfo& kind, const std::string& name, const std::string& ns) {
  return std::string(kind.singular) + " \"" + name + "\" not found in namespace \"" + ns + "\"";
}

// Reads the named objects (or lists the kind); errors are printed, the first one's exit code kept.
struct Fetched {
  std::vector<Resource> items;
  std::string resource_version;  // of the list (empty for named gets)
  int exit_code = kExitOk;
};

Fetched Fetch(CommandContext& ctx, const KindInfo& kind, const std::vector<std::string>& names,
              const std::string& ns, const std::string& selector) {
  Fetched f;
  if (names.empty()) {
    ListOptions options{std::string(kind.kind), ns, selector, kPageSize, ""};
    auto list = ctx.client->ListAll(options);
    if (!list.ok()) {
      f.exit_code = ctx.Fail(list.status());
      return f;
    }
    f.items = std::move(list->items);
    f.resource_version = list->resource_version;
    return f;
  }
  for (const auto& name : names) {
    auto r = ctx.client->Get({std::string(kind.kind), ns, name});
    if (!r.ok()) {
      Status s = r.status();
      if (s.code() == StatusCode::kNotFound) s = NotFound(NotFoundIn(kind, name, ns));
      int code = ctx.Fail(s);
      if (f.exit_code == kExitOk) f.exit_code = code;
      continue;
    }
    f.items.push_back(std::move(r).value());
  }
  return f;
}

void PrintItems(CommandContext& ctx, const KindInfo& kind, OutputFormat format, bool all_namespaces,
                const std::vector<Resource>& items, bool listing, std::vector<std::size_t>& widths) {
  auto& out = ctx.io.out;
  switch (format) {
    case OutputFormat::kTable:
    case OutputFormat::kWide: {
      bool wide = format == OutputFormat::kWide;
      Table t;
      t.headers = TableHeaders(kind, wide, all_namespaces);
      for (const auto& r : items) t.rows.push_back(TableRow(r, kind, wide, all_namespaces, ctx.io.now()));
      widths = ColumnWidths(t);
      if (!items.empty()) out << RenderTable(t);
      break;
    }
    case OutputFormat::kName:
      for (const auto& r : items) out << QualifiedName(r) << "\n";
      break;
    case OutputFormat::kYaml:
      out << FormatYaml(items);
      break;
    case OutputFormat::kJson:
      if (!items.empty() || listing) out << FormatJson(items, listing);
      break;
  }
  out.flush();
}

void PrintEvent(CommandContext& ctx, const KindInfo& kind, OutputFormat format, bool all_namespaces,
                const Resource& r, std::vector<std::size_t>& widths, bool& header_printed) {
  auto& out = ctx.io.out;
  switch (format) {
    case OutputFormat::kTable:
    case OutputFormat::kWide: {
      bool wide = format == OutputFormat::kWide;
      Table t;
      if (!header_printed) t.headers = TableHeaders(kind, wide, all_namespaces);
      t.rows.push_back(TableRow(r, kind, wide, all_namespaces, ctx.io.now()));
      // Widen the remembered columns so later rows line up with this one too.
      Table probe{TableHeaders(kind, wide, all_namespaces), t.rows};
      auto w = ColumnWidths(probe);
      for (std::size_t i = 0; i < w.size() && i < widths.size(); ++i) w[i] = std::max(w[i], widths[i]);
      widths = w;
      out << RenderTable(t, widths);
      header_printed = true;
      break;
    }
    case OutputFormat::kName:
      out << QualifiedName(r) << "\n";
      break;
    case OutputFormat::kYaml:
      out << "---\n" << FormatYaml({r});
      break;
    case OutputFormat::kJson:
      out << FormatJson({r}, false);
      break;
  }
  out.flush();
}

}  // namespace

int RunGet(CommandContext& ctx) {
  std::vector<std::string> names;
  auto kind_or = KindAndNames(ctx.args.positionals, names);
  if (!kind_or.ok()) return ctx.UsageError(kind_or.status().message());
  const KindInfo& kind = **kind_or;
  auto format_or = ParseOutputFormat(ctx.args.Value("output"));
  if (!format_or.ok()) return ctx.UsageError(format_or.status().message());
  OutputFormat format = *format_or;
  bool all_namespaces = ctx.args.Has("all-namespaces");
  bool watch = ctx.args.Has("watch");
  std::string selector = ctx.args.Value("selector");
  if (all_namespaces && !names.empty()) return ctx.UsageError("a NAME cannot be combined with -A");
  if (!names.empty() && !selector.empty()) return ctx.UsageError("a NAME cannot be combined with -l");
  if (watch && names.size() > 1) return ctx.UsageError("-w watches one NAME or the whole kind");
  std::string ns = all_namespaces ? std::string() : ctx.config.namespace_;

  // With -w the initial state comes from a list, so the watch can resume from its revision.
  Fetched f = watch ? Fetch(ctx, kind, {}, ns, selector) : Fetch(ctx, kind, names, ns, selector);
  if (watch && f.exit_code != kExitOk) return f.exit_code;
  if (watch && !names.empty()) {
    std::erase_if(f.items, [&](const Resource& r) { return r.metadata.name != names.front(); });
  }
  std::vector<std::size_t> widths;
  PrintItems(ctx, kind, format, all_namespaces, f.items, names.empty(), widths);
  if (f.exit_code == kExitOk && f.items.empty() && names.empty() && !watch && (format == OutputFormat::kTable || format == OutputFormat::kWide)) {
    if (all_namespaces) ctx.io.err << "No resources found.\n";
    else ctx.io.err << "No resources found in " << ns << " namespace.\n";
  }
  if (!watch) return f.exit_code;

  bool header_printed = !f.items.empty();
  std::string resource_version = f.resource_version;
  CancelToken never;
  WatchStreamOptions stream;
  stream.cancel = ctx.io.cancel != nullptr ? ctx.io.cancel : &never;
  while (!stream.cancel->cancelled()) {
    WatchOptions options;
    options.kind = std::string(kind.kind);
    options.namespace_ = ns;
    options.label_selector = selector;
    options.resource_version = resource_version;
    if (!names.empty()) options.name = names.front();
    Status s = ctx.client->Watch(options, [&](const WatchEvent& e) {
      if (!e.object.metadata.resource_version.empty()) resource_version = e.object.metadata.resource_version;
      if (e.type != WatchEventType::kBookmark) PrintEvent(ctx, kind, format, all_namespaces, e.object, widths, header_printed);
      return true;
    }, stream);
    if (s.code() == StatusCode::kCancelled) break;
    if (s.code() == StatusCode::kGone) {
      // Fell out of the server's event window: list again and continue from there.
      Fetched again = Fetch(ctx, kind, {}, ns, selector);
      if (again.exit_code != kExitOk) return again.exit_code;
      resource_version = again.resource_version;
      for (const auto& r : again.items) {
        if (names.empty() || r.metadata.name == names.front()) {
          PrintEvent(ctx, kind, format, all_namespaces, r, widths, header_printed);
        }
      }
      continue;
    }
    if (!s.ok()) return ctx.Fail(s);
    // The server ended the stream (its time limit): resume from the last revision seen.
  }
  return kExitOk;
}

int RunDescribe(CommandContext& ctx) {
  std::vector<std::string> names;
  auto kind_or = KindAndNames(ctx.args.positionals, names);
  if (!kind_or.ok()) return ctx.UsageError(kind_or.status().message());
  const KindInfo& kind = **kind_or;
  Fetched f = Fetch(ctx, kind, names, ctx.config.namespace_, "");
  for (std::size_t i = 0; i < f.items.size(); ++i) {
    if (i > 0) ctx.io.out << "\n";
    // Events come from servers that run controllers; an API-only server has none to show.
    auto events = ctx.client->ListEvents(KeyOf(f.items[i]));
    ctx.io.out << Describe(f.items[i], ctx.io.now(), events.ok() ? &*events : nullptr);
  }
  if (f.items.empty() && names.empty() && f.exit_code == kExitOk) {
    ctx.io.err << "No resources found in " << ctx.config.namespace_ << " namespace.\n";
  }
  return f.exit_code;
}

}  // namespace tuna::cli
