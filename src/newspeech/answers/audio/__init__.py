"""Answer audio: each spoken answer's recording, stored by the live exam, served to those who
may see the answer, deleted after the retention period (docs/audio.md)."""
