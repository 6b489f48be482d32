#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace tuna::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v: "le" semantics
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::bucket_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

CounterFamily& Registry::AddCounter(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  Entry e{Entry::Type::kCounter, {}, {}, {}, name, help, {}};
  e.counter = std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(label_names),
                                              [] { return std::make_unique<Counter>(); });
  entries_.push_back(std::move(e));
  return *entries_.back().counter;
}

GaugeFamily& Registry::AddGauge(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  Entry e{Entry::Type::kGauge, {}, {}, {}, name, help, {}};
  e.gauge = std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(label_names),
                                          [] { return std::make_unique<Gauge>(); });
  entries_.push_back(std::move(e));
  return *entries_.back().gauge;
}

HistogramFamily& Registry::AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  Entry e{Entry::Type::kHistogram, {}, {}, {}, name, help, {}};
  e.histogram = std::make_unique<HistogramFamily>(std::move(name), std::move(help), std::move(label_names),
                                                  [bounds] { return std::make_unique<Histogram>(bounds); });
  entries_.push_back(std::move(e));
  return *entries_.back().histogram;
}

void Registry::AddGaugeCallback(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  entries_.push_back(Entry{Entry::Type::kGaugeCallback, {}, {}, {}, std::move(name), std::move(help), std::move(read)});
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    // Shortest of %.15g / %.17g that reads back exactly, so bucket bounds print as "0.0001".
    std::snprintf(buf, sizeof buf, "%.15g", v);
    if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

std::string HelpEscape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    out += out.empty() ? "{" : ",";
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  if (!out.empty()) out += '}';
  return out;
}

void Header(std::string& out, const std::string& name, const std::string& help, std::string_view type) {
  out += "# HELP " + name + " " + HelpEscape(help) + "\n";
  out += "# TYPE " + name + " ";
  out += type;
  out += '\n';
}

}  // namespace

std::string Registry::Expose() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& e : entries_) {
    switch (e.type) {
      case Entry::Type::kCounter:
        Header(out, e.name, e.help, "counter");
        e.counter->ForEach([&](const std::vector<std::string>& labels, const Counter& c) {
          out += e.name + LabelSet(e.counter->label_names(), labels) + " " + FormatValue(c.value()) + "\n";
        });
        break;
      case Entry::Type::kGauge:
        Header(out, e.name, e.help, "gauge");
        e.gauge->ForEach([&](const std::vector<std::string>& labels, const Gauge& g) {
          out += e.name + LabelSet(e.gauge->label_names(), labels) + " " + FormatValue(g.value()) + "\n";
        });
        break;
      case Entry::Type::kGaugeCallback: {
        Header(out, e.name, e.help, "gauge");
        double v = 0;
        try {
          v = e.read();
        } catch (...) {
          v = std::nan("");  // a failing source must not break the whole scrape
        }
        out += e.name + " " + FormatValue(v) + "\n";
        break;
      }
      case Entry::Type::kHistogram:
        Header(out, e.name, e.help, "histogram");
        e.histogram->ForEach([&](const std::vector<std::string>& labels, const Histogram& h) {
          const auto& names = e.histogram->label_names();
          auto counts = h.bucket_counts();
          std::uint64_t cumulative = 0;
          for (std::size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            std::string le = i < h.bounds().size() ? FormatValue(h.bounds()[i]) : "+Inf";
            out += e.name + "_bucket" + LabelSet(names, labels, "le", le) + " " + std::to_string(cumulative) + "\n";
          }
          out += e.name + "_sum" + LabelSet(names, labels) + " " + FormatValue(h.sum()) + "\n";
          out += e.name + "_count" + LabelSet(names, labels) + " " + std::to_string(cumulative) + "\n";
        });
        break;
    }
  }
  return out;
}

}  // namespace tuna::metrics
