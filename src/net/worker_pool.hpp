#pragma once
// A fixed pool of handler threads with a bounded queue: I/O threads hand requests over and never
// block on store I/O; when the queue is full the caller answers 503 instead of queueing forever.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tuna::net {

class WorkerPool {
 public:
  WorkerPool(std::size_t threads, std::size_t max_queue);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues a task; false (task not taken) when the queue is at its bound or the pool stopped.
  bool TrySubmit(std::function<void()> task);
  /// Stops taking tasks, drops queued ones, joins the threads. Idempotent.
  void Stop();
  std::size_t queued() const;
  std::size_t busy() const;

 private:
  void Run();

  const std::size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::size_t busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tuna::net
