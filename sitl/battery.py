"""Battery: charge used from current draw over sim time, so hovering and idling drain it too."""

from __future__ import annotations

from dataclasses import dataclass

CELLS = 4
CELL_FULL_V = 4.2
CELL_EMPTY_V = 3.5


@dataclass
class Battery:
    capacity_mah: float
    used_mah: float = 0.0
    current_a: float = 0.0
    #: injected extra drain, percent of capacity per sim second (fault injection)
    extra_pct_per_s: float = 0.0

    def step(self, current_a: float, dt: float) -> None:
        self.current_a = current_a
        self.used_mah += current_a * dt / 3.6  # A*s -> mAh
        if self.extra_pct_per_s > 0.0:
            self.used_mah += self.capacity_mah * self.extra_pct_per_s / 100.0 * dt
        self.used_mah = min(self.used_mah, self.capacity_mah)

    @property
    def remaining_mah(self) -> float:
        return max(0.0, self.capacity_mah - self.used_mah)

    @property
    def pct(self) -> float:
        return 100.0 * self.remaining_mah / self.capacity_mah if self.capacity_mah > 0 else 0.0

    @property
    def voltage(self) -> float:
        """Resting voltage from state of charge plus a little sag under load."""
        cell = CELL_EMPTY_V + (CELL_FULL_V - CELL_EMPTY_V) * self.pct / 100.0
        return CELLS * cell - 0.01 * self.current_a
