"""The face box every layer speaks of: detection results stored, reviewed, redacted and checked."""

from __future__ import annotations

from dataclasses import dataclass

from consentflow.faces.engine import box_iou


@dataclass(frozen=True)
class Box:
    """A face box in pixel coordinates of the EXIF-transposed original (right/bottom exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def area(self) -> int:
        return max(0, self.right - self.left) * max(0, self.bottom - self.top)

    def iou(self, other: Box) -> float:
        return box_iou(self, other)
