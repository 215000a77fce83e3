"""Turning raw MIDI bytes from a port into the notes Tandem uses, whatever arrives.

Written by hand because mido's tokenizer drops running status (data bytes
that reuse the previous status byte), which some keyboards and MIDI-over-serial
bridges send. :class:`MidiDecoder` keeps one port's running status and:

- yields note-on, note-off (a note-on with velocity 0 *is* a note-off) and
  control changes (the sustain pedal matters on a keyboard);
- skips system exclusive, even spread over several messages, and every
  real-time byte (timing clock, active sensing, start/stop), wherever it is;
- skips other channel and system-common messages whole;
- counts and skips garbage: data bytes with no status to go with them, or a
  message cut short.

It never raises, and its work is bounded by the bytes it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MidiDecoder", "Note"]

# Data bytes that follow each channel-voice status (high nibble).
_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
# System common: data bytes after F1..F6 (F4, F5 undefined: none).
_COMMON_LEN = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF4: 0, 0xF5: 0, 0xF6: 0}


@dataclass(frozen=True, slots=True)
class Note:
    """A decoded message Tandem acts on.

    ``kind`` is ``"on"``, ``"off"`` or ``"cc"``; for ``"cc"``, ``note`` is the
    controller number and ``velocity`` its value.
    """

    kind: str
    channel: int
    note: int
    velocity: int


class MidiDecoder:
    """One port's byte-stream decoder (see the module docstring)."""

    def __init__(self) -> None:
        self._status = 0  # running status (a channel-voice status byte), 0 when none
        self._in_sysex = False
        self.malformed = 0  # garbage bytes or cut messages skipped
        self.skipped = 0  # well-formed messages Tandem has no use for

    def feed(self, data: bytes) -> list[Note]:
        """Decode one message as the port delivered it (it may hold several, or a fragment)."""
        out: list[Note] = []
        status = self._status
        need = _DATA_LEN.get(status & 0xF0, 0) if status else 0
        buf: list[int] = []
        common_left = -1  # data bytes still owed to a system-common message being skipped
        for b in data:
            if b >= 0xF8:  # real-time: may appear anywhere, even inside other messages
                continue
            if self._in_sysex:
                if b < 0x80:
                    continue
                self._in_sysex = False
                if b == 0xF7:
                    continue
                self.malformed += 1  # a status byte ends a sysex that lost its F7
            if b >= 0x80:
                if buf or common_left > 0:  # the previous message was cut short by this status byte
                    self.malformed += 1
                    buf = []
                common_left = -1
                if b == 0xF0:
                    self._in_sysex = True
                    status, need = 0, 0
                    self.skipped += 1
                elif b == 0xF7:  # an end of sysex with no start
                    self.malformed += 1
                    status, need = 0, 0
                elif b >= 0xF1:  # system common: cancels running status, skipped whole
                    status, need = 0, 0
                    common_left = _COMMON_LEN[b]
                    self.skipped += 1
                else:
                    status, need = b, _DATA_LEN[b & 0xF0]
                continue
            # A data byte.
            if common_left > 0:
                common_left -= 1
                continue
            if not status:
                self.malformed += 1
                continue
            buf.append(b)
            if len(buf) == need:
                note = self._message(status, buf)
                if note is not None:
                    out.append(note)
                buf = []
        if buf or common_left > 0:
            self.malformed += 1  # a message cut short at the end of what arrived
        self._status = status
        return out

    def _message(self, status: int, data: list[int]) -> Note | None:
        kind, ch = status & 0xF0, status & 0x0F
        if kind == 0x90:
            return Note("on" if data[1] > 0 else "off", ch, data[0], data[1])
        if kind == 0x80:
            return Note("off", ch, data[0], data[1])
        if kind == 0xB0:
            return Note("cc", ch, data[0], data[1])
        self.skipped += 1
        return None
