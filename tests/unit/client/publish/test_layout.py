"""Reading a trust directory (the Go client's ``<gun>/metadata/<role>.json``), checked before sending."""

from __future__ import annotations

from pathlib import Path

import pytest

from notary.client.publish.errors import ExitCode, LayoutError
from notary.client.publish.layout import scan
from tests.support.trust_dir import initial_files, write_repository
from tests.support.tuf_builder import Delegation, Key, sign_file, targets_signed


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(LayoutError) as caught:
        scan(directory)
    assert caught.value.exit_code is ExitCode.USAGE
    return caught.value.problems


def test_nested_guns_and_delegations_in_upload_order(tmp_path: Path) -> None:
    files = initial_files("example.com/team/app")
    releases = sign_file(targets_signed(delegations=[Delegation("targets/releases", [Key.generate()])]), [])
    write_repository(tmp_path, "example.com/team/app", {**files, "targets/releases": releases})
    write_repository(tmp_path, "example.com/team/app/sub", initial_files("example.com/team/app/sub"))
    write_repository(tmp_path, "alpha", initial_files("alpha"))
    (tmp_path / "alpha" / "changelist").mkdir()  # the Go client's pending changes: not metadata
    (tmp_path / "alpha" / "changelist" / "01.change").write_text("{}")

    repositories = scan(tmp_path)

    assert [r.gun for r in repositories] == ["alpha", "example.com/team/app", "example.com/team/app/sub"]
    app = repositories[1]
    assert list(app.files) == ["root", "targets", "targets/releases", "snapshot"]
    assert app.files["root"] == files["root"]  # the exact bytes
    assert app.files["targets/releases"] == releases
    assert app.size == sum(len(data) for data in app.files.values())


def test_timestamp_is_never_sent(tmp_path: Path) -> None:
    files = initial_files("a")
    write_repository(tmp_path, "a", {**files, "timestamp": files["snapshot"]})
    assert "timestamp" not in scan(tmp_path)[0].files


def test_a_repository_with_only_a_timestamp_has_nothing_to_publish(tmp_path: Path) -> None:
    write_repository(tmp_path, "a", {"timestamp": initial_files("a")["snapshot"]})
    assert problems_of(tmp_path) == [
        "a: nothing to publish in metadata/ (timestamp.json alone is never sent)"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    good = initial_files("good")
    write_repository(tmp_path, "good", good)
    write_repository(
        tmp_path,
        "bad",
        {
            "root": b'{"signed": {}',  # cut short
            "targets": "{}".encode("utf-16"),
            "targets/UPPER": good["targets"],  # delegation names are lower case
        },
    )
    (tmp_path / "bad" / "metadata" / "notes.txt").write_text("hello")
    (tmp_path / "star*" / "metadata").mkdir(parents=True)

    problems = problems_of(tmp_path)

    expected = [
        "bad: metadata/notes.txt is not <role>.json for a TUF role",
        "bad: metadata/root.json: not JSON",
        "bad: metadata/targets.json: not UTF-8 text",
        "bad: metadata/targets/UPPER.json is not <role>.json for a TUF role",
        "star*: a GUN has at most 255 printable characters and no '*'",
    ]
    assert len(problems) == len(expected), problems
    for start in expected:
        assert any(problem.startswith(start) for problem in problems), (start, problems)


def test_a_file_that_is_not_a_signed_document(tmp_path: Path) -> None:
    write_repository(tmp_path, "a", {"targets": b'{"signed": {"_type": "Targets"}, "signatures": {}}'})
    assert problems_of(tmp_path) == [
        "a: metadata/targets.json: needs a 'signed' object and a 'signatures' list"
    ]


def test_pointing_at_a_repository_folder_itself(tmp_path: Path) -> None:
    write_repository(tmp_path, "a", initial_files("a"))
    [problem] = problems_of(tmp_path / "a")
    assert "is itself a repository folder" in problem


def test_an_empty_or_missing_directory(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [
        f"no repositories under {tmp_path}: expected <gun>/metadata/<role>.json files"
    ]
    assert problems_of(tmp_path / "missing") == [f"{tmp_path / 'missing'} is not a directory"]
