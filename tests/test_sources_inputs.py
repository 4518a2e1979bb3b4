"""Every input of a delivery is accounted for (issue 17, item 4).

Links are followed (loops and broken links named), a wrong separator is named,
and an empty or header-only register file is an error (exit 2) that ``validate``
reports.
"""

from __future__ import annotations

import pytest
from test_sources_data import CLAIMS, EPISODES, write_csv, write_delivery

from kprlink.cli import main
from kprlink.exceptions import ValidationError
from kprlink.sources import import_delivery, read_delivery, read_extract


def _problems(err: pytest.ExceptionInfo) -> dict[str, str]:
    return {p.file: p.reason for p in err.value.problems}


def test_a_link_to_a_file_is_followed(tmp_path):
    folder = write_delivery(tmp_path / "d")
    target = tmp_path / "elsewhere.csv"
    (folder / "npr_episoder.csv").rename(target)
    (folder / "npr_episoder.csv").symlink_to(target)
    d = read_delivery(folder)
    assert len(d.npr_episodes) == len(EPISODES)
    assert "npr_episoder.csv" in set(d.files["file"])


def test_a_link_to_a_folder_is_listed(tmp_path):
    folder = write_delivery(tmp_path / "d")
    (tmp_path / "more").mkdir()
    (folder / "more").symlink_to(tmp_path / "more")
    assert "more (a link to a folder)" in read_delivery(folder).report.unclassified


@pytest.mark.parametrize("kind", ["loop", "broken"])
def test_link_loops_and_broken_links_are_errors(tmp_path, kind, capsys):
    folder = write_delivery(tmp_path / "d")
    link = folder / "kpr_kuhr_regninger_2.csv"
    if kind == "loop":
        (folder / "a.csv").symlink_to(folder / "b.csv")
        (folder / "b.csv").symlink_to(folder / "a.csv")
        expected = {"a.csv": "link_loop", "b.csv": "link_loop"}
    else:
        link.symlink_to(tmp_path / "gone.csv")
        expected = {link.name: "broken_link"}
    with pytest.raises(ValidationError) as err:
        read_delivery(folder)
    assert _problems(err) == expected
    assert main(["validate", str(folder)]) == 2
    msg = capsys.readouterr().err
    assert all(name in msg for name in expected) and "Traceback" not in msg


@pytest.mark.parametrize("sep", [":", " "])
def test_a_header_with_a_foreign_separator_is_named(tmp_path, sep, capsys):
    folder = write_delivery(tmp_path / "d")
    write_csv(EPISODES[["lopenr", "inndato", "utdato", "omsorgsniva"]],
              folder / "npr_episoder.csv", sep=sep)
    with pytest.raises(ValidationError) as err:
        read_delivery(folder)
    p = next(p for p in err.value.problems if p.file == "npr_episoder.csv")
    assert p.reason == "wrong_separator" and "npr.episodes" in p.message
    with pytest.raises(ValidationError) as one:
        read_extract(folder / "npr_episoder.csv")
    assert [q.reason for q in one.value.problems] == ["wrong_separator"]
    assert main(["validate", str(folder / "npr_episoder.csv")]) == 2
    assert "separated by" in capsys.readouterr().err


@pytest.mark.parametrize("sep, named", [("\t", ";"), ("|", ";"), (";", ",")])
def test_a_named_separator_that_does_not_fit_is_named(tmp_path, sep, named):
    path = write_csv(CLAIMS, tmp_path / "c.csv", sep=sep)
    with pytest.raises(ValidationError) as err:
        read_extract(path, sep=named)
    p = err.value.problems[0]
    assert p.reason == "wrong_separator" and repr(sep) in p.message


@pytest.mark.parametrize("content", ["empty", "header"])
def test_empty_and_header_only_register_files_are_errors(tmp_path, content, capsys):
    folder = write_delivery(tmp_path / "d")
    path = folder / "kpr_kuhr_regninger.csv"
    if content == "empty":
        path.write_bytes(b"")
    else:
        path.write_text(";".join(CLAIMS.columns) + "\n", encoding="utf-8")
    reason = "empty_file" if content == "empty" else "no_rows"
    with pytest.raises(ValidationError) as err:
        read_delivery(folder)
    assert _problems(err) == {"kpr_kuhr_regninger.csv": reason}
    assert main(["validate", str(folder)]) == 2
    assert "kpr_kuhr_regninger.csv" in capsys.readouterr().err
    assert main(["import", str(folder), "--out", str(tmp_path / "imp")]) == 2
    assert not (tmp_path / "imp").exists()


def test_a_header_only_parquet_file_is_an_error_in_a_streamed_import(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    EPISODES.iloc[:0].to_parquet(folder / "npr_episoder.parquet", index=False)
    CLAIMS.to_parquet(folder / "kpr_kuhr_regninger.parquet", index=False)
    with pytest.raises(ValidationError) as err:
        import_delivery(folder, tmp_path / "imp", chunk_rows=2)
    assert _problems(err) == {"npr_episoder.parquet": "no_rows"}


def test_a_row_with_too_many_fields_is_named_by_number_never_by_content(tmp_path, capsys):
    path = tmp_path / "nokkel.csv"
    path.write_text("npr_lnr;kpr_lnr;levering\n501;101;d1\n502;102;d1;9\n503;103;d1\n",
                    encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        read_extract(path)
    p = err.value.problems[0]
    assert p.reason == "unreadable" and "data rows 2" in p.message
    assert main(["validate", str(path)]) == 2
    msg = capsys.readouterr().err
    assert "data rows 2" in msg and "502" not in msg and "102" not in msg
