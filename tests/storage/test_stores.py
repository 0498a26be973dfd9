"""Both audio stores behave alike: the local folder and S3 (a real S3-protocol server, moto's,
on the loopback). No database is involved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import pytest

from newspeech.config import load_settings
from newspeech.errors import ConfigurationError
from newspeech.storage import AudioStore, ObjectMissing, StorageFailed, check_key
from newspeech.storage.factory import audio_store_from_settings, check_audio_store
from newspeech.storage.local import LocalAudioStore
from newspeech.storage.s3 import S3AudioStore
from tests.fixtures.s3_server import ACCESS_KEY, SECRET_KEY, make_bucket, s3_location

DATA = bytes(range(256)) * 40  # 10 240 bytes
UNSAFE_KEYS = [
    "../outside.ogg",
    "a/../../outside.ogg",
    "/etc/passwd",
    "a//b.ogg",
    "a\\b.ogg",
    ".hidden",
    "a/./b.ogg",
    "",
    "a b.ogg",
    "x" * 300,
]


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AudioStore]:
    if request.param == "local":
        made: AudioStore = LocalAudioStore(tmp_path / "audio")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        made = S3AudioStore(s3_location(endpoint, make_bucket(endpoint)))
    yield made
    await made.aclose()


async def test_stores_reads_and_deletes_an_object(store: AudioStore) -> None:
    key = "session-1/answer-2.ogg"
    assert not await store.exists(key)
    assert await store.size(key) is None
    await store.put(key, DATA, "audio/ogg")
    assert await store.exists(key)
    assert await store.size(key) == len(DATA)
    assert await store.get(key) == DATA
    await store.put(key, DATA[:10], "audio/ogg")  # replaces
    assert await store.get(key) == DATA[:10]
    await store.delete(key)
    assert not await store.exists(key)
    await store.delete(key)  # deleting twice is fine
    with pytest.raises(ObjectMissing):
        await store.get(key)


async def test_reads_byte_ranges(store: AudioStore) -> None:
    key = "session-1/answer-3.ogg"
    await store.put(key, DATA, "audio/ogg")
    assert await store.get(key, 0, 0) == DATA[:1]
    assert await store.get(key, 100, 199) == DATA[100:200]
    assert await store.get(key, 10_000) == DATA[10_000:]
    assert await store.get(key, 10_200, 20_000) == DATA[10_200:]


@pytest.mark.parametrize("key", UNSAFE_KEYS)
async def test_refuses_keys_that_could_leave_the_store(store: AudioStore, key: str) -> None:
    with pytest.raises(ValueError, match="key"):
        await store.put(key, DATA, "audio/ogg")
    with pytest.raises(ValueError, match="key"):
        await store.get(key)
    with pytest.raises(ValueError, match="key"):
        await store.delete(key)


def test_safe_keys_pass_unchanged() -> None:
    assert check_key("session-12/answer-345.ogg") == "session-12/answer-345.ogg"


async def test_local_store_keeps_files_under_its_folder_and_follows_no_symlink_out(
    tmp_path: Path,
) -> None:
    store = LocalAudioStore(tmp_path / "audio")
    await store.put("session-1/answer-1.ogg", DATA, "audio/ogg")
    assert (tmp_path / "audio" / "session-1" / "answer-1.ogg").read_bytes() == DATA
    assert not list((tmp_path / "audio" / "session-1").glob(".part-*"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.ogg").write_bytes(b"secret")
    (tmp_path / "audio" / "link").symlink_to(outside)
    with pytest.raises(ValueError, match="leaves the audio folder"):
        await store.get("link/secret.ogg")


async def test_s3_store_writes_under_its_prefix(s3_endpoint: str) -> None:
    bucket = make_bucket(s3_endpoint)
    store = S3AudioStore(s3_location(s3_endpoint, bucket, prefix="exams/audio/"))
    await store.put("session-1/answer-1.ogg", DATA, "audio/ogg")
    await store.check()
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    listed = client.list_objects_v2(Bucket=bucket)
    head = client.head_object(Bucket=bucket, Key="exams/audio/session-1/answer-1.ogg")
    client.close()
    assert [o["Key"] for o in listed["Contents"]] == ["exams/audio/session-1/answer-1.ogg"]
    assert head["ContentType"] == "audio/ogg"
    await store.aclose()


async def test_s3_store_reports_a_missing_bucket_and_an_unreachable_server(
    s3_endpoint: str,
) -> None:
    missing = S3AudioStore(s3_location(s3_endpoint, "no-such-bucket"))
    with pytest.raises(StorageFailed, match="no-such-bucket"):
        await missing.put("a.ogg", DATA, "audio/ogg")
    with pytest.raises(StorageFailed):
        await missing.check()
    await missing.aclose()
    down = S3AudioStore(s3_location("http://127.0.0.1:9", "bucket"))
    with pytest.raises(StorageFailed) as caught:
        await down.put("a.ogg", DATA, "audio/ogg")
    assert caught.value.retryable
    await down.aclose()


async def test_start_up_stops_on_a_missing_bucket_and_tolerates_a_server_that_is_down(
    s3_endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await check_audio_store(LocalAudioStore(tmp_path / "new" / "folder"))
    assert (tmp_path / "new" / "folder").is_dir()
    await check_audio_store(S3AudioStore(s3_location(s3_endpoint, make_bucket(s3_endpoint))))
    missing = S3AudioStore(s3_location(s3_endpoint, "no-such-bucket"))
    with pytest.raises(ConfigurationError, match="no-such-bucket does not exist"):
        await check_audio_store(missing)
    await check_audio_store(S3AudioStore(s3_location("http://127.0.0.1:9", "bucket")))
    assert "unreachable for now" in caplog.text
    file = tmp_path / "a-file"
    file.write_bytes(b"")
    with pytest.raises(ConfigurationError, match="cannot create the audio folder"):
        await check_audio_store(LocalAudioStore(file / "audio"))


def test_settings_choose_the_store(tmp_path: Path) -> None:
    local = audio_store_from_settings(load_settings(data_dir=tmp_path))
    assert isinstance(local, LocalAudioStore)
    assert local.root == (tmp_path / "answer-audio").resolve()
    s3 = audio_store_from_settings(
        load_settings(
            data_dir=tmp_path,
            audio_store="s3",
            audio_s3_bucket="exams",
            audio_s3_endpoint_url="http://127.0.0.1:9000",
        )
    )
    assert isinstance(s3, S3AudioStore)
    assert s3.object_name("a.ogg") == "answer-audio/a.ogg"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"audio_store": "s3"}, "NEWSPEECH_AUDIO_S3_BUCKET"),
        (
            {"audio_store": "s3", "audio_s3_bucket": "b", "audio_s3_endpoint_url": "minio:9000"},
            "must start with http",
        ),
        (
            {"audio_store": "s3", "audio_s3_bucket": "b", "audio_s3_access_key": "k"},
            "NEWSPEECH_AUDIO_S3_SECRET_KEY",
        ),
        ({"audio_store": "s3", "audio_s3_bucket": "b", "audio_s3_prefix": "../x/"}, "PREFIX"),
        ({"audio_store": "ftp"}, "AUDIO_STORE"),
        ({"audio_retention_days": -1}, "AUDIO_RETENTION_DAYS"),
    ],
)
def test_bad_audio_settings_stop_start_up_with_a_clear_message(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(data_dir=tmp_path, **overrides)
