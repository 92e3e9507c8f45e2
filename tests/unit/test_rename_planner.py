"""Planning batch renames: examples of each rule, and properties checked by running the plan over an
in-memory file system."""

from __future__ import annotations

import os
import posixpath
import time
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_rename_sanitize import assert_portable

from crate_app.domain.rename import RenamePlan, RenameStep, StepKind
from crate_app.domain.track import TrackRecord
from crate_app.rename.planner import plan_renames
from crate_app.rename.sanitize import SanitizeOptions
from crate_app.rename.template import compile_template

ROOT = "/lib"


def fold(path: str, case_insensitive: bool) -> str:
    return unicodedata.normalize("NFC", path).casefold() if case_insensitive else path


def run_steps(
    steps: Iterable[RenameStep], files: Iterable[str], case_insensitive: bool = False
) -> dict[str, str]:
    """Run the steps over a set of files; return {original path: final path} for every file.

    Fails if a step's source is not there, or its target is occupied at that moment.
    """
    where: dict[str, str] = {}  # folded current path -> original path of the file there
    current: dict[str, str] = {}  # original path -> current path
    for path in files:
        key = fold(path, case_insensitive)
        assert key not in where, f"the test set-up has {path} twice"
        where[key], current[path] = path, path
    for step in steps:
        src_key, dst_key = fold(step.src, case_insensitive), fold(step.dst, case_insensitive)
        assert src_key in where and current[where[src_key]] == step.src, f"{step}: nothing at {step.src}"
        assert dst_key not in where, f"{step}: {step.dst} is occupied"
        original = where.pop(src_key)
        where[dst_key], current[original] = original, step.dst
    return current


def plan(
    tracks: list[TrackRecord],
    template: str = "{title}",
    others: Iterable[str] = (),
    case_insensitive: bool = False,
    sidecars: dict[int, list[str]] | None = None,
    **kwargs: object,
) -> tuple[RenamePlan, dict[str, str]]:
    """Plan with every track (and sidecar, and ``others``) existing, run it, return plan and result."""
    files = {t.path for t in tracks} | set(others) | {p for ps in (sidecars or {}).values() for p in ps}
    result = plan_renames(
        tracks,
        compile_template(template),
        exists=files,
        library_roots=kwargs.pop("library_roots", [ROOT]),  # type: ignore[arg-type]
        case_insensitive=case_insensitive,
        sidecars=sidecars,
        **kwargs,  # type: ignore[arg-type]
    )
    return result, run_steps(result.steps, files, case_insensitive)


def track(track_id: int, name: str, title: str | None = None, **tags: object) -> TrackRecord:
    return TrackRecord(id=track_id, path=f"{ROOT}/{name}", title=title, **tags)  # type: ignore[arg-type]


def test_a_simple_rename_and_a_skip() -> None:
    result, moved = plan([track(1, "a.mp3", "New"), track(2, "Same.mp3", "Same")])
    assert moved == {f"{ROOT}/a.mp3": f"{ROOT}/New.mp3", f"{ROOT}/Same.mp3": f"{ROOT}/Same.mp3"}
    assert [(s.track_id, s.kind, s.src, s.dst, s.temporary) for s in result.steps] == [
        (1, StepKind.MOVE, f"{ROOT}/a.mp3", f"{ROOT}/New.mp3", False)
    ]
    assert (result.changed_count, result.unchanged_count, result.conflict_count) == (1, 1, 0)
    assert result.unchanged == (2,)


def test_folders_come_from_the_template_and_values_never_add_folders() -> None:
    tracks = [track(1, "a.mp3", "T", artist="AC/DC", album="../..")]
    _, moved = plan(tracks, "{artist}/{album}/{title}")
    assert moved[f"{ROOT}/a.mp3"] == f"{ROOT}/AC_DC/.._/T.mp3"  # "../.." -> ".._.." -> no trailing dots


def test_collisions_in_the_batch_are_numbered_by_track_id() -> None:
    tracks = [track(3, "c.mp3", "Same"), track(1, "a.mp3", "Same"), track(2, "b.mp3", "Same")]
    result, moved = plan(tracks)
    assert [moved[f"{ROOT}/{n}.mp3"] for n in "abc"] == [
        f"{ROOT}/Same.mp3",
        f"{ROOT}/Same (2).mp3",
        f"{ROOT}/Same (3).mp3",
    ]
    assert [(m.track_id, m.wanted) for m in result.conflicts] == [
        (2, f"{ROOT}/Same.mp3"),
        (3, f"{ROOT}/Same.mp3"),
    ]
    assert result.conflict_count == 2


def test_a_file_that_stays_is_never_overwritten() -> None:
    others = [f"{ROOT}/Taken.mp3", f"{ROOT}/Taken (2).mp3"]
    _, moved = plan([track(1, "a.mp3", "Taken")], others=others)
    assert moved[f"{ROOT}/a.mp3"] == f"{ROOT}/Taken (3).mp3"
    assert moved[f"{ROOT}/Taken.mp3"] == f"{ROOT}/Taken.mp3"


def test_a_track_in_the_batch_that_stays_blocks_like_any_file() -> None:
    tracks = [track(1, "Keep.mp3", "Keep"), track(2, "x.mp3", "Keep"), track(3, "y.mp3", None)]
    result, moved = plan(tracks)
    assert moved[f"{ROOT}/x.mp3"] == f"{ROOT}/Keep (2).mp3"
    assert [(f.track_id, "empty file name" in f.reason) for f in result.failures] == [(3, True)]


def test_a_chain_moves_the_last_link_first() -> None:
    tracks = [track(1, "a.mp3", "b"), track(2, "b.mp3", "c")]
    result, moved = plan(tracks)
    assert [(s.src, s.dst) for s in result.steps] == [
        (f"{ROOT}/b.mp3", f"{ROOT}/c.mp3"),
        (f"{ROOT}/a.mp3", f"{ROOT}/b.mp3"),
    ]
    assert moved[f"{ROOT}/a.mp3"] == f"{ROOT}/b.mp3"


def test_a_swap_goes_through_a_temporary_name() -> None:
    result, moved = plan([track(1, "a.mp3", "b"), track(2, "b.mp3", "a")])
    temporary = f"{ROOT}/.crate-rename-1.tmp"
    assert [(s.track_id, s.src, s.dst, s.temporary) for s in result.steps] == [
        (1, f"{ROOT}/a.mp3", temporary, True),
        (2, f"{ROOT}/b.mp3", f"{ROOT}/a.mp3", False),
        (1, temporary, f"{ROOT}/b.mp3", False),
    ]
    assert moved == {f"{ROOT}/a.mp3": f"{ROOT}/b.mp3", f"{ROOT}/b.mp3": f"{ROOT}/a.mp3"}
    assert result.conflict_count == 0


def test_a_three_cycle_with_a_taken_temporary_name() -> None:
    tracks = [track(1, "a.mp3", "b"), track(2, "b.mp3", "c"), track(3, "c.mp3", "a")]
    result, moved = plan(tracks, others=[f"{ROOT}/.crate-rename-1.tmp"])
    assert len(result.steps) == 4
    assert result.steps[0].dst == f"{ROOT}/.crate-rename-2.tmp"
    assert moved[f"{ROOT}/c.mp3"] == f"{ROOT}/a.mp3"


def test_case_only_renames_on_a_case_insensitive_file_system_use_a_temporary_name() -> None:
    result, moved = plan([track(1, "song.mp3", "Song")], case_insensitive=True)
    assert [s.temporary for s in result.steps] == [True, False]
    assert moved[f"{ROOT}/song.mp3"] == f"{ROOT}/Song.mp3"
    direct, _ = plan([track(1, "song.mp3", "Song")], case_insensitive=False)
    assert [(s.src, s.dst) for s in direct.steps] == [(f"{ROOT}/song.mp3", f"{ROOT}/Song.mp3")]


def test_targets_that_differ_only_in_case_collide_on_a_case_insensitive_file_system() -> None:
    tracks = [track(1, "a.mp3", "Song"), track(2, "b.mp3", "SONG")]
    _, moved = plan(tracks, case_insensitive=True)
    assert moved[f"{ROOT}/b.mp3"] == f"{ROOT}/SONG (2).mp3"
    _, moved = plan(tracks, case_insensitive=False)
    assert moved[f"{ROOT}/b.mp3"] == f"{ROOT}/SONG.mp3"


def test_a_folder_case_difference_alone_is_no_change_on_a_case_insensitive_file_system() -> None:
    tracks = [track(1, "ARTIST/Song.mp3", "Song", artist="Artist")]
    result, _ = plan(tracks, "{artist}/{title}", case_insensitive=True)
    assert result.steps == () and result.unchanged == (1,)


def test_a_normalisation_difference_alone_is_no_change_on_a_case_insensitive_file_system() -> None:
    tracks = [track(1, "Cafe\u0301.mp3", "Caf\u00e9")]  # macOS hands out NFD names, templates give NFC
    result, _ = plan(tracks, case_insensitive=True)
    assert result.steps == () and result.unchanged == (1,)
    result, _ = plan(tracks, case_insensitive=False)  # Linux keeps both spellings apart: rename
    assert [step.dst for step in result.steps] == [f"{ROOT}/Caf\u00e9.mp3"]


def test_sidecars_follow_the_new_stem_and_obey_collisions() -> None:
    sidecars = {1: [f"{ROOT}/a.cue", f"{ROOT}/a.en.lrc"], 2: [f"{ROOT}/b.txt"]}
    others = [f"{ROOT}/New.txt"]  # only the .txt is taken: track 2 and its sidecar move to (2) together
    tracks = [track(1, "a.mp3", "Mix"), track(2, "b.mp3", "New")]
    result, moved = plan(tracks, sidecars=sidecars, others=others)
    assert moved[f"{ROOT}/a.cue"] == f"{ROOT}/Mix.cue"
    assert moved[f"{ROOT}/a.en.lrc"] == f"{ROOT}/Mix.en.lrc"
    assert moved[f"{ROOT}/b.mp3"] == f"{ROOT}/New (2).mp3"
    assert moved[f"{ROOT}/b.txt"] == f"{ROOT}/New (2).txt"
    assert {s.kind for s in result.steps if s.src.endswith((".cue", ".lrc", ".txt"))} == {StepKind.SIDECAR}
    assert result.changed_count == 2


def test_a_destination_folder_and_several_roots() -> None:
    tracks = [
        TrackRecord(id=1, path="/lib/deep/x.mp3", title="X"),
        TrackRecord(id=2, path="/lib/deep/inner/y.mp3", title="Y"),
        TrackRecord(id=3, path="/elsewhere/z.mp3", title="Z"),
        TrackRecord(id=4, path="/lib2/w.mp3", title="W"),  # a root is a folder, not a prefix of names
    ]
    result, moved = plan(tracks, library_roots=["/lib", "/lib/deep/inner"])
    assert moved["/lib/deep/x.mp3"] == "/lib/X.mp3"
    assert moved["/lib/deep/inner/y.mp3"] == "/lib/deep/inner/Y.mp3"  # the innermost root wins
    assert [(f.track_id, f.reason) for f in result.failures] == [
        (3, "the file is not inside a library folder"),
        (4, "the file is not inside a library folder"),
    ]
    _, moved = plan(tracks, destination="/dest")
    assert sorted(moved.values()) == ["/dest/W.mp3", "/dest/X.mp3", "/dest/Y.mp3", "/dest/Z.mp3"]


def test_a_plan_runs_on_a_real_folder_with_os_rename(tmp_path: Path) -> None:
    root = str(tmp_path)
    for name in ("a.mp3", "b.mp3", "c.mp3", "a.cue", "Keep.mp3"):
        (tmp_path / name).write_text(name)
    tracks = [
        TrackRecord(id=1, path=f"{root}/a.mp3", title="b"),  # a and b swap names...
        TrackRecord(id=2, path=f"{root}/b.mp3", title="a"),
        TrackRecord(id=3, path=f"{root}/c.mp3", title="Keep", artist="X"),  # ...c meets a file that stays
    ]
    result = plan_renames(
        tracks, compile_template("{title}"), exists=os.path.lexists, library_roots=[root],
        sidecars={1: [f"{root}/a.cue"]},
    )  # fmt: skip
    assert any(step.temporary for step in result.steps)
    for step in result.steps:  # what the executor will do, minus the journal
        assert not os.path.lexists(step.dst)
        os.makedirs(os.path.dirname(step.dst), exist_ok=True)
        os.rename(step.src, step.dst)
    contents = {str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    assert contents == {"b.mp3": "a.mp3", "b.cue": "a.cue", "a.mp3": "b.mp3", "Keep (2).mp3": "c.mp3",
                        "Keep.mp3": "Keep.mp3"}  # fmt: skip


def test_the_path_limit_shortens_and_can_refuse() -> None:
    long = "L" * 60
    tracks = [track(1, "a.mp3", long, artist=long)]
    _, moved = plan(tracks, "{artist}/{title}", options=SanitizeOptions(max_path_length=50))
    assert len(moved[f"{ROOT}/a.mp3"]) - len(ROOT) - 1 <= 50
    result, _ = plan(
        tracks, "{artist}/{artist}/{artist}/{title}", options=SanitizeOptions(max_path_length=10)
    )
    assert "too long" in result.failures[0].reason


def test_undecodable_file_names_do_not_break_planning() -> None:
    tracks = [track(1, "caf\udce9.mp3", "Caf\udce9"), track(2, "\udcff.mp3", "b")]
    result, moved = plan(tracks, sidecars={1: [f"{ROOT}/caf\udce9.cue"]})
    assert moved[f"{ROOT}/caf\udce9.mp3"] == f"{ROOT}/Caf_.mp3"
    assert moved[f"{ROOT}/caf\udce9.cue"] == f"{ROOT}/Caf_.cue"
    assert result.changed_count == 2


def _planning_cpu_seconds(tracks: list[TrackRecord], template: str) -> float:
    started = time.process_time()  # CPU time: other work on the machine counts less
    plan_renames(tracks, compile_template(template), exists=lambda path: False, library_roots=[ROOT])
    return time.process_time() - started


def _grows_linearly(make_tracks, template: str, small: int) -> float:
    """CPU-time ratio of planning 4 x ``small`` tracks to ``small`` tracks (best of two each).

    Linear planning gives about 4 on an idle machine (up to 10 seen at load 15 on 2 cores), quadratic
    16-20: a ratio, not a time limit, so that a busy machine does not fail the test (absolute speed is
    measured by tests/benchmarks/rename_bench.py).
    """
    one = min(_planning_cpu_seconds(make_tracks(small), template) for _ in range(3))
    four = min(_planning_cpu_seconds(make_tracks(4 * small), template) for _ in range(3))
    return four / max(one, 1e-6)


def test_planning_grows_linearly_with_the_number_of_tracks() -> None:
    def make_tracks(count: int) -> list[TrackRecord]:
        return [
            TrackRecord(
                id=i,
                path=f"{ROOT}/in/{i}.mp3",
                artist=f"Artist {i % 500}",
                title=f"Title {i % 6000}",
                bpm=128.0,
            )
            for i in range(count)
        ]

    result = plan_renames(
        make_tracks(12_000),
        compile_template("{artist}/{title} [{bpm}]"),
        exists=lambda path: False,
        library_roots=[ROOT],
    )
    assert result.changed_count == 12_000 and len(result.conflicts) == 12_000 - 6000
    assert _grows_linearly(make_tracks, "{artist}/{title} [{bpm}]", 3_000) < 13


def test_many_tracks_wanting_one_name_plan_in_linear_time() -> None:
    # What a live preview meets while the user types "{genre}" on the way to "{genre}/{title}".
    def make_tracks(count: int) -> list[TrackRecord]:
        return [TrackRecord(id=i, path=f"{ROOT}/in/{i}.mp3", genre=f"G{i % 4}") for i in range(count)]

    result = plan_renames(
        make_tracks(20_000), compile_template("{genre}"), exists=lambda path: False, library_roots=[ROOT]
    )
    assert result.moves[-1].dst == f"{ROOT}/G3 (5000).mp3"
    assert _grows_linearly(make_tracks, "{genre}", 2_500) < 13


def test_collision_numbers_run_out() -> None:
    tracks = [track(i, f"{i}.mp3", "Same") for i in range(1, 10_002)]
    result = plan_renames(tracks, compile_template("{title}"), exists=set(), library_roots=[ROOT])
    assert [(f.track_id, f.reason) for f in result.failures] == [
        (10_000, "no free file name was found"),
        (10_001, "no free file name was found"),
    ]


# --- properties -------------------------------------------------------------------------------------

NAMES = ["a", "A", "b", "x", "x (2)", "é", "e\u0301", "CON", "c\udcff"]
TAGS = [
    None,
    "",
    "a",
    "A",
    "b",
    "x",
    "x (2)",
    "é",
    "e\u0301",
    "..",
    "a/b",
    " x. ",
    "CON",
    "nul.mp3",
    "\x00",
    "\udcff",
]
TEMPLATES = [
    "{title}",
    "{title}",
    "{title}",
    "{artist}/{title}",
    "{artist|Unknown}/{title|Untitled}",
    "{title} {artist}",
    "fixed",
    "{artist}/{album}/{track:02} {title}",
]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    case_insensitive = draw(st.booleans())
    candidates = [
        f"{ROOT}/{folder}{name}{ext}"
        for folder in ("", "", "A/")
        for name in NAMES
        for ext in (".mp3", ".mp3", ".MP3")
    ]
    unique = st.lists(
        st.sampled_from(candidates), unique_by=lambda p: fold(p, case_insensitive), min_size=1, max_size=14
    )
    paths = draw(unique)
    count = draw(st.integers(min_value=1, max_value=len(paths)))
    track_paths, other_paths = paths[:count], paths[count:]
    # Mostly the names of the files at hand, so that targets meet sources: chains, swaps, cycles.
    stems = [posixpath.splitext(posixpath.basename(path))[0] for path in paths] or NAMES
    tag = st.one_of(st.sampled_from(stems), st.sampled_from(stems), st.sampled_from(TAGS))
    # (id, path, title, artist, album): short to read when hypothesis prints a failing scenario.
    tracks = [(index + 1, path, draw(tag), draw(tag), draw(tag)) for index, path in enumerate(track_paths)]
    if draw(st.booleans()):  # the titles of the tracks are their names shuffled (and some upper-cased)
        titles = draw(st.permutations(stems[:count]))
        upper = draw(st.lists(st.booleans(), min_size=count, max_size=count))
        tracks = [
            (i, p, t.upper() if u else t, a, b)
            for (i, p, _, a, b), t, u in zip(tracks, titles, upper, strict=True)
        ]
    draw(st.randoms()).shuffle(tracks)
    # Sidecars: other existing files handed over with a track (whatever their name: the caller decides).
    sidecars: dict[int, list[str]] = {}
    for other in other_paths:
        if tracks and draw(st.booleans()):
            owner = draw(st.sampled_from(tracks))[0]
            sidecars.setdefault(owner, []).append(other)
    return {
        "tracks": tracks,
        "others": other_paths,
        "sidecars": sidecars,
        "template": draw(st.sampled_from(TEMPLATES)),
        "case_insensitive": case_insensitive,
        "max_path_length": draw(st.sampled_from([1024, 1024, 1024, 12])),
        "destination": draw(st.sampled_from([None, None, "/dest"])),
    }


def make_track(
    track_id: int, path: str, title: str | None, artist: str | None, album: str | None
) -> TrackRecord:
    return TrackRecord(id=track_id, path=path, title=title, artist=artist, album=album, track_no=track_id)


def scenario(tracks: list, sidecars: dict, template: str = "{title}") -> dict[str, object]:
    others = sorted({p for ps in sidecars.values() for p in ps})
    return dict(tracks=tracks, others=others, sidecars=sidecars, template=template, case_insensitive=False,
                max_path_length=1024, destination=None)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
# Two sidecars that would get one name: the one named after the track and next to it wins, then and after.
@example(scenario([(1, "/lib/a.mp3", "b", None, None)], {1: ["/lib/CON.flac", "/lib/a.flac"]}))
@example(
    scenario([(1, "/lib/a.mp3", "é", "é", None)], {1: ["/lib/é.flac", "/lib/a.flac"]}, "{artist}/{title}")
)
def test_plans_are_safe_complete_portable_and_idempotent(scenario: dict) -> None:
    tracks = [make_track(*spec) for spec in scenario["tracks"]]
    case_insensitive: bool = scenario["case_insensitive"]
    options = SanitizeOptions(max_path_length=scenario["max_path_length"])
    kwargs = dict(
        template=scenario["template"],
        others=scenario["others"],
        case_insensitive=case_insensitive,
        sidecars=scenario["sidecars"],
        destination=scenario["destination"],
        options=options,
    )
    # run_steps fails on any step from a missing file or onto an occupied path.
    result, moved = plan(tracks, **kwargs)
    files_before = set(moved)
    files_after = list(moved.values())

    # Every file ends at exactly one path, no two at the same one, as the plan's summary says.
    assert len({fold(p, case_insensitive) for p in files_after}) == len(files_before)
    assert {src: dst for src, dst in moved.items() if src != dst} == result.final_paths()
    assert not any(".crate-rename-" in p for p in files_after)
    # Each track is counted exactly once: changed, unchanged or failed.
    changed = {m.track_id for m in result.moves}
    unchanged, failed = set(result.unchanged), {f.track_id for f in result.failures}
    assert changed | unchanged | failed == {t.id for t in tracks}
    assert len(changed) + len(unchanged) + len(failed) == len(tracks)

    # Every new path is inside its root, portable, within the limits.
    root = scenario["destination"] or ROOT
    for move in result.moves:
        relative = posixpath.relpath(move.dst, root)
        assert move.dst == posixpath.join(root, relative) and relative.split("/")[0] != ".."
        for component in relative.split("/"):
            assert_portable(component)
        assert len(relative.encode("utf-16-le")) // 2 <= options.max_path_length

    # Planning again over the result changes nothing.
    new_tracks = [make_track(t.id, moved[t.path], t.title, t.artist, t.album) for t in tracks]
    new_sidecars = {owner: [moved[p] for p in paths] for owner, paths in scenario["sidecars"].items()}
    again, _ = plan(
        new_tracks, **kwargs | {"others": [moved[p] for p in scenario["others"]], "sidecars": new_sidecars}
    )
    assert again.steps == ()
    assert {f.track_id for f in again.failures} == failed


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=7, unique=True),
    st.randoms(use_true_random=False),
    st.booleans(),
    st.lists(st.booleans(), min_size=7, max_size=7),
)
def test_permutations_of_names_become_chains_and_cycles(
    names: list[str], random: object, case_insensitive: bool, upper: list[bool]
) -> None:
    # Every track is renamed to another one's current name (some upper-cased): no number is needed.
    targets = list(names)
    random.shuffle(targets)  # type: ignore[attr-defined]
    targets = [name.upper() if flip else name for name, flip in zip(targets, upper, strict=False)]
    tracks = [
        track(i, f"{name}.mp3", target) for i, (name, target) in enumerate(zip(names, targets, strict=True))
    ]
    result, moved = plan(tracks, case_insensitive=case_insensitive)
    assert moved == {f"{ROOT}/{n}.mp3": f"{ROOT}/{t}.mp3" for n, t in zip(names, targets, strict=True)}
    assert result.conflicts == () and result.failures == ()
    # A temporary name only where a cycle (or a case-only rename) needs one: one per cycle.
    temporaries = sum(step.temporary for step in result.steps)
    assert len(result.steps) == len(result.moves) + temporaries
    pairs = [
        (fold(f"{n}.mp3", case_insensitive), fold(f"{t}.mp3", case_insensitive)) for n, t in moved.items()
    ]
    assert temporaries == count_cycles(
        {src: dst for (src, dst), (n, t) in zip(pairs, moved.items(), strict=True) if n != t}
    )


def count_cycles(moving: dict[str, str]) -> int:
    """Cycles among the moves (source -> target, folded), a case-only rename counting as one."""
    seen: set[str] = set()
    cycles = 0
    for start in moving:
        path: list[str] = []
        node = start
        while node in moving and node not in seen:
            seen.add(node)
            path.append(node)
            node = moving[node]
        cycles += node in path
    return cycles


def test_planning_stops_part_way_when_asked() -> None:
    from crate_app.rename.planner import CHECK_STOP_EVERY, PlanningStopped

    tracks = [track(i, f"{i}.mp3", f"Title {i}") for i in range(1, 5 * CHECK_STOP_EVERY)]
    asked: list[int] = []

    def stop_at_the_third_question() -> bool:
        asked.append(1)
        return len(asked) >= 3

    with pytest.raises(PlanningStopped):
        plan(tracks, "{title}", should_stop=stop_at_the_third_question)
    assert len(asked) == 3  # it stopped at once, not after every track was planned
    never_asked_to_stop, _ = plan(tracks, "{title}", should_stop=lambda: False)
    assert never_asked_to_stop == plan(tracks, "{title}")[0]


def test_fields_left_empty_are_counted_once_per_track() -> None:
    tracks = [
        track(1, "a.mp3", "A", artist="Moodymann"),
        track(2, "b.mp3", "B"),  # no artist, no album
        track(3, "c.mp3", None, album="Post"),  # no artist, no title
    ]
    result, _ = plan(tracks, "{artist}/{album|Singles}/{artist} - {title}")
    assert result.empty_fields == (("{artist}", 2), ("{title}", 1))  # {album} has a fallback
    result, _ = plan(tracks, "{albumartist|artist}/{title|album|Untitled}")
    assert result.empty_fields == (("{albumartist|artist}", 2),)


def test_the_note_on_empty_fields_reads_well() -> None:
    def note(*empty: tuple[str, int]) -> str:
        return RenamePlan(
            steps=(), moves=(), unchanged=(), failures=(), empty_fields=empty
        ).empty_fields_note()

    assert note() == ""
    assert note(("{albumartist|artist}", 1)) == (
        "1 track has no {albumartist|artist} (a fallback helps: {albumartist|artist|Unknown})"
    )
    assert note(("{artist}", 1312), ("{album}", 20)) == (
        "1,312 tracks have no {artist}, 20 no {album} (a fallback helps: {artist|Unknown})"
    )
    assert note(("{a}", 5), ("{b}", 4), ("{c}", 3), ("{d}", 2)).endswith(
        "3 no {c} and 1 more field (a fallback helps: {a|Unknown})"
    )
