"""Sessions, notes and result files: one SQLite database and one folder per session under the data dir.

Session ids are random hex strings made here; user-supplied names are only ever stored as text, never
used in a path. Deleting a session removes its row, its notes and its whole folder.

Every method checks and changes under one lock, so a request racing a delete sees ``UnknownSession``
(a 404), never a half-deleted session. The database runs in WAL mode: a kill loses at most the last
transaction, and readers never wait for the writer.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,            -- live | upload
    status TEXT NOT NULL,          -- live | stopped | queued | processing | done | failed | interrupted
    model TEXT NOT NULL,
    created REAL NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    video_name TEXT NOT NULL DEFAULT '',
    client TEXT NOT NULL DEFAULT ''  -- a pseudonym or code chosen by the counsellor; '' = no client
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    time_s REAL NOT NULL,
    text TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS frames (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    time_s REAL NOT NULL,
    record TEXT NOT NULL,          -- one timeline.csv row as JSON
    PRIMARY KEY (session_id, seq)
);
"""


class UnknownSession(KeyError):
    """No such session: it never existed, or it was deleted meanwhile."""


class SessionClosed(RuntimeError):
    """Frames sent to a live session that has been stopped (or interrupted)."""


@dataclass
class Session:
    id: str
    name: str
    kind: str
    status: str
    model: str
    created: float
    progress: float = 0.0
    error: str = ""
    video_name: str = ""
    client: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def created_date(self) -> str:
        return time.strftime("%Y-%m-%d", time.localtime(self.created))


class Storage:
    """Thread-safe access to the database and the session folders."""

    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "sessions").mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "rtfer.sqlite3", check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(sessions)")}
        if "client" not in columns:  # a data dir made before clients existed
            self._db.execute("ALTER TABLE sessions ADD COLUMN client TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def folder(self, session_id: str) -> Path:
        """The session's folder; ids are validated hex, so this never leaves the data dir."""
        if not (len(session_id) == 32 and all(c in "0123456789abcdef" for c in session_id)):
            raise UnknownSession(session_id)
        return self.root / "sessions" / session_id

    def _row(self, session_id: str) -> Session:
        """The session; call with the lock held."""
        self.folder(session_id)
        row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise UnknownSession(session_id)
        return Session(**dict(row))

    # -- sessions ------------------------------------------------------------------------------------
    def create(self, name: str, kind: str, model: str, status: str, client: str = "") -> Session:
        session = Session(uuid.uuid4().hex, name, kind, status, model, time.time(), client=client)
        self.folder(session.id).mkdir(parents=True)
        with self._lock, self._db:
            self._db.execute("INSERT INTO sessions (id, name, kind, status, model, created, client) "
                             "VALUES (?,?,?,?,?,?,?)",
                             (session.id, name, kind, status, model, session.created, client))
        return session

    def get(self, session_id: str) -> Session:
        with self._lock:
            return self._row(session_id)

    def exists(self, session_id: str) -> bool:
        try:
            self.get(session_id)
        except UnknownSession:
            return False
        return True

    def list(self, client: str | None = None) -> list[Session]:
        """All sessions, newest first; ``client``: only that client's."""
        with self._lock:
            rows = (self._db.execute("SELECT * FROM sessions ORDER BY created DESC") if client is None else
                    self._db.execute("SELECT * FROM sessions WHERE client = ? ORDER BY created DESC", (client,)))
            return [Session(**dict(row)) for row in rows.fetchall()]

    def live_duration(self, session_id: str) -> float:
        """A live session's length: its last stored frame's time (0 without frames)."""
        with self._lock:
            return self._db.execute("SELECT COALESCE(MAX(time_s), 0) FROM frames WHERE session_id = ?",
                                    (session_id,)).fetchone()[0]

    def update(self, session_id: str, **fields: Any) -> Session:
        allowed = {"name", "status", "progress", "error", "video_name", "model", "client"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"cannot update {sorted(set(fields) - allowed)}")
        assignments = ", ".join(f"{key} = ?" for key in fields)
        with self._lock, self._db:
            self._row(session_id)
            self._db.execute(f"UPDATE sessions SET {assignments} WHERE id = ?", (*fields.values(), session_id))
            return self._row(session_id)

    def delete(self, session_id: str) -> None:
        folder = self.folder(session_id)
        with self._lock, self._db:
            self._row(session_id)
            self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        shutil.rmtree(folder, ignore_errors=True)

    def interrupt(self, session_id: str) -> bool:
        """A live session whose client went away without Stop: ``interrupted`` (a no-op if stopped or deleted).
        Returns whether it was still live."""
        with self._lock, self._db:
            return self._db.execute("UPDATE sessions SET status = 'interrupted' WHERE id = ? AND status = 'live'",
                                    (session_id,)).rowcount > 0

    def recover(self) -> list[str]:
        """After a crash or kill: live sessions still marked live, and uploads whose analysis never ended.

        Live sessions become ``interrupted`` (their stored frames stay and can be downloaded; no client can
        reconnect and restart their frame numbers). Uploads that were stored completely go back to the queue;
        their ids are returned for the caller to re-analyse. Uploads cut off mid-transfer become ``interrupted``.
        """
        requeue = []
        with self._lock, self._db:
            self._db.execute("UPDATE sessions SET status = 'interrupted' WHERE kind = 'live' AND status = 'live'")
            rows = self._db.execute("SELECT id, video_name FROM sessions WHERE kind = 'upload' "
                                    "AND status IN ('queued', 'processing') ORDER BY created").fetchall()
            for session_id, video_name in rows:
                complete = bool(video_name) and any(self.folder(session_id).glob("upload.*"))
                self._db.execute("UPDATE sessions SET status = ?, progress = 0, error = ? WHERE id = ?",
                                 ("queued", "", session_id) if complete else
                                 ("interrupted", "the server stopped before the upload was complete", session_id))
                if complete:
                    requeue.append(session_id)
        return requeue

    # -- notes ---------------------------------------------------------------------------------------
    def add_note(self, session_id: str, time_s: float, text: str) -> dict[str, Any]:
        created = time.time()
        with self._lock, self._db:
            self._row(session_id)
            cursor = self._db.execute("INSERT INTO notes (session_id, time_s, text, created) VALUES (?,?,?,?)",
                                      (session_id, time_s, text, created))
        return {"id": cursor.lastrowid, "time_s": time_s, "text": text, "created": created}

    def update_note(self, session_id: str, note_id: int, text: str) -> dict[str, Any]:
        with self._lock, self._db:
            self._row(session_id)
            if not self._db.execute("UPDATE notes SET text = ? WHERE id = ? AND session_id = ?",
                                    (text, note_id, session_id)).rowcount:
                raise UnknownSession(session_id)
            row = self._db.execute("SELECT id, time_s, text, created FROM notes WHERE id = ?", (note_id,)).fetchone()
        return dict(row)

    def delete_note(self, session_id: str, note_id: int) -> None:
        with self._lock, self._db:
            self._row(session_id)
            if not self._db.execute("DELETE FROM notes WHERE id = ? AND session_id = ?",
                                    (note_id, session_id)).rowcount:
                raise UnknownSession(session_id)

    def notes(self, session_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._row(session_id)
            rows = self._db.execute("SELECT id, time_s, text, created FROM notes WHERE session_id = ? "
                                    "ORDER BY time_s, id", (session_id,)).fetchall()
        return [dict(row) for row in rows]

    # -- live frames ---------------------------------------------------------------------------------
    def add_frames(self, session_id: str, records: list[dict[str, Any]]) -> None:
        """Append live results (not images: live frames are never stored) to a session that is still live."""
        with self._lock, self._db:
            if self._row(session_id).status != "live":
                raise SessionClosed(session_id)
            start = self._db.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM frames WHERE session_id = ?",
                                     (session_id,)).fetchone()[0]
            self._db.executemany("INSERT INTO frames (session_id, seq, time_s, record) VALUES (?,?,?,?)",
                                 [(session_id, start + i, r["time_s"], json.dumps(r)) for i, r in enumerate(records)])

    def frame_count(self, session_id: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM frames WHERE session_id = ?", (session_id,)).fetchone()[0]

    def frames(self, session_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM frames WHERE session_id = ? ORDER BY seq",
                                    (session_id,)).fetchall()
        return [json.loads(row[0]) for row in rows]
