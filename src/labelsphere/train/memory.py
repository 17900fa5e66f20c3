"""Peak resident memory of a block of work (what a run added to this process)."""

from __future__ import annotations

__all__ = ["PeakMemory"]


class PeakMemory:
    """Peak resident memory of this process while the block runs, sampled every 50 ms (MB).

    ``peak_mb`` is the peak above the resident size at entry, i.e. what the run added. On a
    GPU, ``torch.cuda.max_memory_allocated`` is the figure to read instead.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb: float | None = None

    def __enter__(self) -> PeakMemory:
        import threading

        import psutil

        self._proc = psutil.Process()
        self._base = self._max = self._proc.memory_info().rss
        self._stop = threading.Event()

        def sample() -> None:
            while not self._stop.wait(self.interval):
                self._max = max(self._max, self._proc.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._max = max(self._max, self._proc.memory_info().rss)
        self.peak_mb = (self._max - self._base) / 2**20
