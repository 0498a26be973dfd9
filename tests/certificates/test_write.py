"""Documents are written whole, even when two first downloads write the same one at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from newspeech.certificates.service import _write


def test_concurrent_writers_of_one_document_leave_one_whole_file_and_no_temporaries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "certificates" / "VIVA-0123456789AB.pdf"
    versions = [bytes([n]) * 200_000 for n in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda data: _write(path, data), versions * 4))
    assert path.read_bytes() in versions
    assert [p.name for p in path.parent.iterdir()] == [path.name]
