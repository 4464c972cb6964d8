"""One row of the reliability table: what was tried, how many times, how many passed.

The fault scenarios in this folder each return a `FaultRow`; the tests run them with small counts
and assert that every try passed, and `bench/faults.py` runs them with the issue's full counts and
prints the rows as one table (the README's "Reliability" section quotes it).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaultRow:
    area: str  # "server", "trainer", "files" or "live"
    tried: str  # what was done, in a few words, e.g. "fuzzed /offer bodies"
    count: int  # how many times
    passed: int  # how many of those ended as they should
    failures: list[str] = field(default_factory=list)  # one short line per failed try (what went wrong)

    def fail(self, why: str) -> None:
        """Record one failed try (the caller counts the try itself)."""
        self.failures.append(why)

    @property
    def all_passed(self) -> bool:
        return self.passed == self.count and not self.failures

    def summary(self) -> str:
        """For an assertion message: the counts and the first few failures."""
        shown = "; ".join(self.failures[:5])
        return f"{self.area}: {self.tried}: {self.passed}/{self.count} passed" + (f" ({shown})" if shown else "")
