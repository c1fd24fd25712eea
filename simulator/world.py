"""A world's state on disk: ``world.json`` in the world folder.

The world folder holds ``world.json`` and, unless the world's POS lives at another
SQLAlchemy URL, the POS database ``pos.sqlite``. ``world.json`` records the knobs the
world was made with (seed, stores, first day), how far it has been simulated and where its
POS database is. Everything else (next ids, open deliveries, customers) is read back from
the POS database itself, so the database stays the one source of truth.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from simulator.catalog import MENU_CHANGES

WORLD_FILE = "world.json"
POS_FILE = "pos.sqlite"
FORMAT_VERSION = 1


def default_pos_url(world_dir: Path) -> str:
    """The SQLAlchemy URL of the SQLite POS database inside ``world_dir``."""
    return f"sqlite:///{Path(world_dir).resolve() / POS_FILE}"


def pos_url_for(world_dir: Path) -> str:
    """The POS URL of the world in ``world_dir``: the one recorded in ``world.json``, or
    the default SQLite file in the folder."""
    path = Path(world_dir) / WORLD_FILE
    if path.exists():
        recorded = json.loads(path.read_text(encoding="utf-8")).get("pos_url")
        if recorded:
            return recorded
    return default_pos_url(world_dir)


@dataclass
class World:
    """The knobs and progress of one simulated world (the content of ``world.json``).

    ``pos_url`` is None when the POS is the default ``pos.sqlite`` in the world folder (so
    the folder can move); ``days_simulated`` counts business days from ``start``.
    """

    seed: int
    stores: list[str]
    start: date
    days_simulated: int = 0
    pos_url: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def end(self) -> date | None:
        """The last simulated business day, or None before the first."""
        if self.days_simulated == 0:
            return None
        return self.start + timedelta(days=self.days_simulated - 1)

    @property
    def next_day(self) -> date:
        return self.start + timedelta(days=self.days_simulated)

    def url(self, world_dir: Path) -> str:
        return self.pos_url or default_pos_url(world_dir)

    def to_json(self) -> str:
        end = self.end
        body = {
            "format_version": FORMAT_VERSION,
            "seed": self.seed,
            "stores": self.stores,
            "start": self.start.isoformat(),
            "days_simulated": self.days_simulated,
            "end": end.isoformat() if end else None,
            "pos_url": self.pos_url,
            "menu_changes": [
                {
                    "date": (self.start + timedelta(days=c.offset_days)).isoformat(),
                    "change": c.description,
                }
                for c in MENU_CHANGES
            ],
            **self.extra,
        }
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, path: Path) -> World:
        try:
            body = json.loads(text)
            known = {"format_version", "seed", "stores", "start", "days_simulated", "end"}
            known |= {"pos_url", "menu_changes"}
            return cls(
                seed=int(body["seed"]),
                stores=list(body["stores"]),
                start=date.fromisoformat(body["start"]),
                days_simulated=int(body["days_simulated"]),
                pos_url=body.get("pos_url"),
                extra={k: v for k, v in body.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{path} is not a valid world file ({error!r}); "
                "fix it or start over with fresh=True (mypizza simulate --fresh)"
            ) from error


def load_world(world_dir: Path) -> World | None:
    """The world in ``world_dir``, or None when there is none."""
    path = Path(world_dir) / WORLD_FILE
    if not path.exists():
        return None
    return World.from_json(path.read_text(encoding="utf-8"), path)


def save_world(world_dir: Path, world: World) -> None:
    """Write ``world.json`` atomically (a reader never sees half a file)."""
    path = Path(world_dir) / WORLD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(world.to_json(), encoding="utf-8")
    os.replace(tmp, path)
