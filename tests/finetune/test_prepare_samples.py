"""Samples with real targets: FIM re-joins, completion splits at statement boundaries, and
docstring samples only from functions that have one."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest
from codemill.errors import CodemillError
from codemill.finetune.filters import clean_text
from codemill.finetune.samples import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, SampleBuilder, fim_parts
from codemill.languages import detect_language
from codemill.syntax import parsers as syntax
from codemill.syntax.parsers import grammar_for_path

pytest.importorskip("tree_sitter_python")

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures").glob("sample.*"))
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _stdlib_files(n: int) -> list[Path]:
    files = sorted(p for p in STDLIB.glob("*.py") if 2_000 < p.stat().st_size < 60_000)
    return random.Random(0).sample(files, min(n, len(files)))


def _corpus() -> list[tuple[str, str, str]]:
    """(path, language, text): the multi-language fixtures and a slice of the stdlib."""
    out = [(p.name, detect_language(p), p.read_text(encoding="utf-8")) for p in FIXTURES]
    out += [(p.name, "python", clean_text(p.read_text(encoding="utf-8"))) for p in _stdlib_files(25)]
    return out


def _walk(node):  # every node of a tree, named or not
    yield node
    for child in node.children:
        yield from _walk(child)


# -- fill-in-the-middle ---------------------------------------------------------------------


def test_fim_parts_rejoin_exactly_and_sit_at_syntax_boundaries() -> None:
    orders = set()
    checked = 0
    for path, lang, text in _corpus():
        data = text.encode()
        tree = syntax.parse(data, grammar_for_path(path, lang))
        starts = {n.start_byte for n in _walk(tree.root_node) if n.is_named}
        ends = {n.end_byte for n in _walk(tree.root_node) if n.is_named}
        for seed in range(6):
            b = SampleBuilder(["fim"], fim_rate=1.0, fim_spm_rate=0.5, seed=seed)
            samples, _ = b.build(text, lang, path, "repo")
            [s] = samples
            prefix, middle, suffix = fim_parts(s)
            assert prefix + middle + suffix == text
            assert middle and middle == s["completion"]
            assert s["text"] == s["prompt"] + s["completion"]
            # The middle is whole syntax: it starts where a node starts and ends where one ends.
            m = s["meta"]
            assert len(prefix.encode()) == m["middle_start_byte"] in starts
            assert len((prefix + middle).encode()) == m["middle_end_byte"] in ends
            # The formatted text holds each FIM token once, in the order of its template.
            if s["template"] == "fim-psm":
                assert s["text"] == f"{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}{middle}"
            else:
                assert s["template"] == "fim-spm"
                assert s["text"] == f"{FIM_PREFIX}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}{prefix}{middle}"
            orders.add(s["template"])
            checked += 1
    assert orders == {"fim-psm", "fim-spm"}
    assert checked >= 150


def test_fim_tokens_are_the_tokenizers_special_tokens(tok) -> None:
    text = FIXTURES[0].read_text()
    b = SampleBuilder(["fim"], fim_rate=1.0, fim_spm_rate=0.0, seed=3)
    [s], _ = b.build(text, detect_language(FIXTURES[0]), FIXTURES[0].name, "r")
    ids = tok.encode(s["text"], "c", allowed_special="all").tolist()
    special = [tok.special_id(t) for t in (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE)]
    positions = [ids.index(i) for i in special]
    assert positions == sorted(positions) and positions[0] == 0
    assert all(ids.count(i) == 1 for i in special)
    assert tok.decode(ids) == s["text"]
    # Ordinary encoding never produces them: the marker text stays text.
    assert not set(special) & set(tok.encode(s["text"], "c").tolist())


def test_fim_rate_zero_and_one() -> None:
    text = FIXTURES[0].read_text()
    lang = detect_language(FIXTURES[0])
    for seed in range(10):
        assert SampleBuilder(["fim"], fim_rate=0.0, seed=seed).build(text, lang, "a.c", "r")[0] == []
        assert len(SampleBuilder(["fim"], fim_rate=1.0, seed=seed).build(text, lang, "a.c", "r")[0]) == 1


# -- completion -----------------------------------------------------------------------------


def test_completion_splits_land_on_statement_boundaries() -> None:
    kinds = set()
    for path, lang, text in _corpus():
        data = text.encode()
        tree = syntax.parse(data, grammar_for_path(path, lang))
        for seed in range(4):
            [s], _ = SampleBuilder(["completion"], seed=seed).build(text, lang, path, "repo")
            m = s["meta"]
            split, boundary = m["split_byte"], m["boundary_byte"]
            assert s["prompt"] == data[:split].decode() and s["text"] == s["prompt"] + s["completion"]
            assert text.startswith(s["text"]) and s["completion"].strip()
            # The boundary is the end of a statement/definition node of the file's own tree ...
            enders = [n for n in _walk(tree.root_node) if n.end_byte == boundary and n.type == m["boundary"]]
            assert enders, (path, m)
            node = enders[0]
            assert node.type.endswith(("statement", "definition", "declaration", "item"))
            # ... the prefix takes the rest of that line, so the completion starts a line ...
            assert data[split - 1 : split] == b"\n" and b"\n" not in data[boundary : split - 1]
            # ... and the split is inside no token and no expression: every node that spans it
            # is an ancestor of that statement (a block, a body, a definition being written).
            ancestors = set()
            p = node.parent
            while p is not None:
                ancestors.add((p.start_byte, p.end_byte, p.type))
                p = p.parent
            for n in _walk(tree.root_node):
                if n.start_byte < split < n.end_byte:
                    assert (n.start_byte, n.end_byte, n.type) in ancestors, (path, n.type, m)
            kinds.add(node.type)
    assert len(kinds) >= 8  # splits after many kinds of statements and definitions


def test_completion_prefix_is_a_prefix_of_the_files_tree() -> None:
    """Parsing the prefix alone reproduces the file's statements before the split (Python)."""
    for path, lang, text in _corpus():
        if lang != "python":
            continue
        [s], _ = SampleBuilder(["completion"], seed=1).build(text, lang, path, "repo")
        full = syntax.parse(text, "python").root_node
        alone = syntax.parse(s["prompt"], "python").root_node
        split = s["meta"]["split_byte"]
        before = [(c.type, c.start_byte, c.end_byte) for c in full.children if c.end_byte <= split]
        assert [(c.type, c.start_byte, c.end_byte) for c in alone.children][: len(before)] == before


def test_long_completion_ends_at_a_statement_end() -> None:
    body = "".join(f"    total += step({i})\n" for i in range(400))
    text = f"def run(step):\n    total = 0\n{body}    return total\n"
    [s], _ = SampleBuilder(["completion"], seed=0, completion_max_bytes=500).build(text, "python", "a.py", "r")
    assert len(s["completion"].encode()) <= 500
    assert s["completion"].endswith("\n")
    ends = {n.end_byte + 1 for n in _walk(syntax.parse(text, "python").root_node)}
    assert s["meta"]["end_byte"] in ends


def test_completion_budget_with_nested_statements() -> None:
    """Within the budget the completion ends at the last statement end that fits (nested ones
    count); when none fits, at the first statement end after the split."""
    inner = "".join(f"        acc.append(item * {i})\n" for i in range(60))
    table = "TABLE = {\n" + "".join(f"    'key_{i}': {i},\n" for i in range(40)) + "}\n"
    consts = "".join(f"CONST_{i} = {i}\n" for i in range(30))
    text = "import os\n" + consts + table + "\n\ndef big(items):\n    acc = []\n    for item in items:\n" + inner
    text += "    return acc\n\n\nDONE = big([1, 2])\n"
    data = text.encode()
    tree = syntax.parse(data, "python")
    stmt_ends = sorted({n.end_byte for n in _walk(tree.root_node) if n.type.endswith(("statement", "definition"))})
    line_ends = [data.index(b"\n", e) + 1 if data[e:].lstrip(b" ").startswith(b"\n") else e for e in stmt_ends]
    budget = 300
    branches = set()
    for seed in range(200):
        [s], _ = SampleBuilder(["completion"], seed=seed, completion_max_bytes=budget).build(
            text, "python", "b.py", "r"
        )
        split, end = s["meta"]["split_byte"], s["meta"]["end_byte"]
        assert end in line_ends or end == len(data)
        fitting = [e for e in line_ends if split < e <= split + budget]
        if len(data) - split <= budget:
            assert end == len(data)
            branches.add("rest")
        elif fitting:
            assert end == max(fitting)
            branches.add("fits")
        else:
            assert end == min(e for e in line_ends if e > split)
            branches.add("next")
    assert branches >= {"fits", "next"}


# -- docstring / doc-comment samples ----------------------------------------------------------

PY_DOCS = '''import os


def documented(path):
    """Return the size of the file at path, in bytes."""
    return os.stat(path).st_size


def commented(path):
    # Return the size (a comment, not a docstring).
    return os.stat(path).st_size


def empty_doc():
    """"""
    return 1


def assigned():
    doc = "Assigned string, not a docstring."
    return doc


def only_docstring():
    """Describe something without a body."""


def stub(x):
    """Compute the thing from x."""
    ...


class Box:
    """A box."""

    def open(self, force=False):
        """Open the box.

        Args:
            force: open it even when locked.
        """
        if force:
            self.locked = False
        return not self.locked

    def close(self):
        self.locked = True
'''


def _docstring_samples(text: str, lang: str, path: str) -> dict[str, list[dict]]:
    samples, _ = SampleBuilder(["docstring"], seed=0).build(text, lang, path, "repo")
    by: dict[str, list[dict]] = {}
    for s in samples:
        by.setdefault(s["meta"]["function"], []).append(s)
    return by


def test_a_python_docstring_target_is_the_docstring_as_written() -> None:
    # Its value had `\n` as a line break and `\t` expanded: not what the model should write.
    for prefix, quote in [("", '"""'), ("r", "'''"), ("", '"')]:
        text = f"def f(s):\n    {prefix}{quote}Split s on '\\n' and\\tthe tab.{quote}\n    return s.split()\n"
        doc = _docstring_samples(text, "python", "a.py")["f"][0]
        assert doc["completion"] == "Split s on '\\n' and\\tthe tab.", (prefix, quote)


def test_python_docstring_samples_only_for_functions_with_one() -> None:
    by = _docstring_samples(PY_DOCS, "python", "m.py")
    assert sorted(by) == ["documented", "only_docstring", "open", "stub"]
    templates = {name: [s["template"] for s in ss] for name, ss in by.items()}
    assert templates == {
        "documented": ["docstring-from-code", "body-from-docstring"],
        "open": ["docstring-from-code", "body-from-docstring"],
        "only_docstring": ["docstring-from-code"],  # no body to predict
        "stub": ["docstring-from-code"],  # `...` is a placeholder, not a target
    }
    doc, body = by["documented"]
    assert doc["completion"] == "Return the size of the file at path, in bytes."
    assert "def documented(path):\n    return os.stat(path).st_size" in doc["prompt"]
    assert '"""' not in doc["prompt"]
    assert doc["messages"] == [
        {"role": "user", "content": doc["prompt"]},
        {"role": "assistant", "content": doc["completion"]},
    ]
    assert 'def documented(path):\n    """Return the size of the file at path, in bytes."""' in body["prompt"]
    assert body["completion"] == "    return os.stat(path).st_size"
    assert "return os.stat" not in body["prompt"]
    open_doc, open_body = by["open"]
    assert open_doc["completion"] == "Open the box.\n\nArgs:\n    force: open it even when locked."
    # Methods are dedented: the prompt's code starts at column 0.
    assert "\ndef open(self, force=False):\n    if force:" in open_doc["prompt"]
    assert open_body["completion"].startswith("    if force:\n        self.locked = False\n")
    for ss in by.values():
        for s in ss:
            assert s["kind"] == "docstring" and s["language"] == "python" and s["path"] == "m.py"
            assert s["repository"] == "repo" and s["completion"].strip()


JAVA_DOCS = """package demo;

public class Util {
    /** Returns the larger of two ints. */
    public static int max(int a, int b) {
        return a > b ? a : b;
    }

    // Not a doc comment.
    public static int min(int a, int b) {
        return a < b ? a : b;
    }

    public static int abs(int a) {
        return a < 0 ? -a : a;
    }

    /**
     * Clamps a value.
     * @param v the value
     */

    public static int clamp(int v) {
        return Math.max(0, v);
    }
}
"""

GO_DOCS = """package demo

// Sum adds the numbers in xs.
// It returns 0 for an empty slice.
func Sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

func Undocumented() int {
	return 1
}

// Greet prints a greeting.
//
//go:noinline
func Greet() {
	println("hi")
}

//nolint:errcheck
func Lint() int {
	return 2
}

//nolint
func Bare() int {
	return 3
}
"""

RUST_DOCS = """/// Doubles a number.
/// Never overflows here.
#[inline]
pub fn double(x: i32) -> i32 {
    x * 2
}

// plain comment
fn helper() -> i32 {
    1
}
"""

C_DOCS = """#include <stddef.h>

/**
 * Sums n ints.
 */
int sum(const int *xs, size_t n) {
    int t = 0;
    for (size_t i = 0; i < n; ++i) t += xs[i];
    return t;
}

/* An ordinary comment. */
int zero(void) {
    return 0;
}
"""

JS_DOCS = """/**
 * Adds two numbers.
 */
export function add(a, b) {
  return a + b;
}

/* not jsdoc */
function sub(a, b) {
  return a - b;
}

class K {
  /** Greets. */
  hello() {
    return 'hi';
  }
}
"""


@pytest.mark.parametrize(
    ("lang", "path", "text", "expected"),
    [
        ("java", "Util.java", JAVA_DOCS, {"max": "Returns the larger of two ints."}),
        # Go's directives (//go:noinline, //nolint:...) are not documentation.
        (
            "go",
            "sum.go",
            GO_DOCS,
            {
                "Sum": "Sum adds the numbers in xs.\nIt returns 0 for an empty slice.",
                "Greet": "Greet prints a greeting.",
            },
        ),
        ("rust", "lib.rs", RUST_DOCS, {"double": "Doubles a number.\nNever overflows here."}),
        # An example's indentation is kept (every line of a line-comment doc was stripped).
        (
            "rust",
            "ex.rs",
            "/// Adds.\n///\n/// ```\n/// if a {\n///     add(1, 2);\n/// }\n"
            "/// ```\npub fn add(a: i32) -> i32 {\n    a\n}\n",
            {"add": "Adds.\n\n```\nif a {\n    add(1, 2);\n}\n```"},
        ),
        (
            "go",
            "ex.go",
            "package m\n\n// Sum adds. For example:\n//\n//\ttotal := Sum(1)\nfunc Sum(a int) int {\n\treturn a\n}\n",
            {"Sum": "Sum adds. For example:\n\n\ttotal := Sum(1)"},
        ),
        ("c", "sum.c", C_DOCS, {"sum": "Sums n ints."}),
        ("javascript", "add.js", JS_DOCS, {"add": "Adds two numbers.", "hello": "Greets."}),
    ],
)
def test_doc_comment_samples_only_for_documented_functions(lang, path, text, expected) -> None:
    by = _docstring_samples(text, lang, path)
    assert {name: ss[0]["completion"] for name, ss in by.items()} == expected
    for name, ss in by.items():
        assert [s["template"] for s in ss] == ["docstring-from-code", "body-from-docstring"]
        doc, body = ss
        assert expected[name] not in doc["prompt"]  # the code to document lacks its doc
        assert body["completion"].startswith("{") and body["completion"].rstrip().endswith("}")
        assert body["completion"] not in body["prompt"]
        assert name in body["prompt"]


def test_no_docstring_samples_without_functions_or_grammar() -> None:
    assert _docstring_samples("x = 1\ny = 2\n" * 20, "python", "a.py") == {}
    samples, missed = SampleBuilder(["docstring", "completion"]).build("some text\n" * 20, "generic", "a.txt", "r")
    assert samples == [] and missed == {"no_grammar": 1}
    # Counted with a reason, as completion and FIM are (a kept file gave nothing and said nothing).
    _, missed = SampleBuilder(["docstring"]).build("x = 1\ny = 2\n" * 20, "python", "a.py", "r")
    assert missed == {"docstring_none": 1}
    many = "".join(f'def f{i}(x):\n    """Doc {i}."""\n    return x + {i}\n\n' for i in range(5))
    samples, missed = SampleBuilder(["docstring"], max_docstring_functions=3).build(many, "python", "a.py", "r")
    assert len({s["meta"]["function"] for s in samples}) == 3 and missed == {"docstring_over_limit": 2}


def test_samples_carry_their_origin() -> None:
    text = FIXTURES[-1].read_text()
    lang = detect_language(FIXTURES[-1])
    samples, _ = SampleBuilder(fim_rate=1.0, seed=0).build(text, lang, "src/x", "org/repo")
    assert {s["template"] for s in samples} >= {"raw", "completion"}
    for s in samples:
        assert (s["language"], s["path"], s["repository"]) == (lang, "src/x", "org/repo")
        assert s["id"].startswith("org/repo/src/x#" + s["template"])
    raw = [s for s in samples if s["kind"] == "raw"]
    assert raw[0]["text"] == text


def test_bad_builder_arguments() -> None:
    with pytest.raises(ValueError, match="unknown sample kind"):
        SampleBuilder(["raw", "poem"])
    with pytest.raises(ValueError, match="fim_rate"):
        SampleBuilder(fim_rate=1.5)


def _ends_at_line_ends(s: dict, data: bytes) -> None:
    split, end = s["meta"]["split_byte"], s["meta"]["end_byte"]
    assert data[split - 1 : split] == b"\n", (s["path"], data[split - 40 : split + 40])
    assert end == len(data) or data[end - 1 : end] == b"\n", (s["path"], data[end - 40 : end + 40])


def test_every_completion_of_a_real_repository_ends_at_line_ends() -> None:
    """The issue's defect (41 of 1,415 completions cut mid-line): every completion of the
    stdlib's email and asyncio packages, with a small budget so the end is cut too."""
    files = sorted((STDLIB / "email").rglob("*.py")) + sorted((STDLIB / "asyncio").rglob("*.py"))
    made = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        for seed in range(3):
            samples, _ = SampleBuilder(["completion"], seed=seed, completion_max_bytes=2000).build(
                text, "python", path.name, "stdlib"
            )
            for s in samples:
                _ends_at_line_ends(s, text.encode())
                made += 1
    assert made > 150


@pytest.mark.parametrize(
    ("lang", "path", "text"),
    [
        ("python", "cal.py", "import os\n\nFIRST_DAY_OF_WEEK = 1  # Monday\nLAST = 7  # Sunday\nprint(os.sep)\n"),
        (
            "go",
            "t.go",
            "package main\n\nfunc wait(timer *T, done chan int) int {\n\tselect {\n\tcase <-timer.C: // Time out\n"
            "\t\treturn 0\n\tcase v := <-done: // Finished\n\t\treturn v\n\t}\n\treturn 1\n}\n",
        ),
    ],
)
def test_a_statement_ending_mid_line_is_cut_at_its_line_end(lang: str, path: str, text: str) -> None:
    pytest.importorskip(f"tree_sitter_{lang}")
    for seed in range(30):
        samples, _ = SampleBuilder(["completion"], seed=seed).build(text, lang, path, "r")
        for s in samples:
            _ends_at_line_ends(s, text.encode())


def test_a_file_that_spells_a_fim_marker_gives_no_samples_and_says_why():
    # Tokenizer code: its samples would carry the markers, which tokenize encodes as control
    # tokens for this output, and a FIM sample of it would not split back into its parts.
    text = 'TOKENS = "<|fim_suffix|>"\n' + "".join(f"x{i} = {i}\n" for i in range(6))
    for seed in range(5):
        samples, missed = SampleBuilder(fim_rate=1.0, seed=seed).build(text, "python", "t.py", "r")
        assert samples == [] and missed == {"fim_token_in_text": 1}
    # Without FIM samples the output names no markers (its sidecar lists none), so they are
    # text like any other: such a file gave no samples at all before.
    samples, missed = SampleBuilder(["raw", "completion"], seed=1).build(text, "python", "t.py", "r")
    assert [s["kind"] for s in samples][:1] == ["raw"] and "fim_token_in_text" not in missed
    # Nor with FIM asked for at a rate of 0: no FIM sample can be made (such a file lost all).
    samples, missed = SampleBuilder(fim_rate=0.0, seed=1).build(text, "python", "t.py", "r")
    assert [s["kind"] for s in samples][:1] == ["raw"] and "fim_token_in_text" not in missed


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kinds": ()}, "at least one kind"),
        ({"max_docstring_functions": -1}, "max_docstring_functions must be at least 0"),
        ({"completion_max_bytes": -5}, "completion_max_bytes must be at least 1"),
        ({"fim_max_middle_bytes": 0}, "fim_max_middle_bytes must be at least 1"),
    ],
)
def test_sample_limits_that_cannot_work_are_refused_up_front(options, message):
    # -1 ended a run inside a worker (random.sample), -5 cut every completion at its first
    # statement, and no kinds at all wrote an empty output, said nowhere.
    with pytest.raises(CodemillError, match=message):
        SampleBuilder(**options)


@pytest.mark.parametrize(
    ("lang", "path", "text"),
    [
        (
            "c",
            "a.c",
            "/** Adds. */\nint add(int a) { // TODO: not yet\n}\n/** Subs. */\nint sub(int a) { return a; }\n",
        ),
        (
            "go",
            "a.go",
            "package m\n\n// Add adds.\nfunc Add(a int) int {\n\t// TODO\n"
            "}\n\n// Sub subs.\nfunc Sub(a int) int {\n\treturn a\n}\n",
        ),
        ("rust", "a.rs", "/// Adds.\nfn add(a: i32) {\n    // TODO\n}\n/// Subs.\nfn sub(a: i32) -> i32 {\n    a\n}\n"),
        (
            "java",
            "A.java",
            "class A {\n  /** Adds. */\n  int add(int a) {\n    // TODO\n"
            "  }\n  /** Subs. */\n  int sub(int a) { return a; }\n}\n",
        ),
        (
            "python",
            "a.py",
            'def add(x):\n    """Adds."""\n    # TODO: implement this later\n'
            '\ndef pad(x):\n    """Pads."""\n    pass  # TODO\n\n'
            'def rise(x):\n    """Rises."""\n    raise NotImplementedError  # subclasses\n'
            '\ndef sub(x):\n    """Subs."""\n    # less one\n    return x - 1\n',
        ),
    ],
)
def test_a_body_of_comments_or_a_commented_placeholder_is_no_target(lang, path, text) -> None:
    pytest.importorskip(f"tree_sitter_{lang}")
    by = _docstring_samples(text, lang, path)
    with_body = {name for name, ss in by.items() if "body-from-docstring" in [s["template"] for s in ss]}
    assert {n.lower() for n in with_body} == {"sub"} and len(by) >= 2


@pytest.mark.parametrize(
    ("lang", "path", "text", "inside"),
    [
        (
            "c",
            "count.c",
            "int count(int *xs, int len) {\n    int n = 0;  /* items seen so far,\n"
            "                   reset on each pass */\n    for (int i = 0; i < len; i++) {\n"
            "        n += xs[i];\n    }\n    return n;\n}\n",
            "reset on each pass",
        ),
        (
            "python",
            "a.py",
            "".join(f"a{i} = {i}\n" for i in range(5))
            + 'x = 1; s = """multi\nline"""\n'
            + "".join(f"b{i} = {i}\n" for i in range(5)),
            'line"""',
        ),
    ],
)
def test_a_completion_never_starts_inside_what_runs_on_from_a_statement_line(lang, path, text, inside) -> None:
    # A statement ending mid-line is cut at its line's end; a comment or string that starts
    # on the rest of that line and runs on made the cut fall inside it.
    pytest.importorskip(f"tree_sitter_{lang}")
    made = 0
    for seed in range(60):
        samples, _ = SampleBuilder(["completion"], seed=seed).build(text, lang, path, "r")
        for s in samples:
            made += 1
            assert not s["completion"].lstrip().startswith(inside), seed
    assert made > 30


def test_files_that_share_a_repository_and_path_draw_apart() -> None:
    # Records that repeat one path (setup.py in a JSONL without repositories): before, every one
    # drew the same numbers, so at fim_rate 0.5 they all got a FIM sample or none did.
    builder = SampleBuilder(["fim"], seed=1, fim_rate=0.5)
    got = [
        len(builder.build(f"X = {i}\n\n\ndef f(a):\n    b = a + {i}\n    return b\n", "python", "setup.py", "r")[0])
        for i in range(40)
    ]
    assert 0 < sum(got) < 40


def _targets(text: str, lang: str, path: str) -> dict[str, str]:
    pytest.importorskip(f"tree_sitter_{lang}")
    samples, _ = SampleBuilder(["docstring"], seed=0).build(text, lang, path, "repo")
    return {s["template"]: s["completion"] for s in samples}


def test_a_doc_comment_target_is_as_written() -> None:
    # Tabs stayed tabs only in the prompt (`inspect.cleandoc` expanded them in the target), and
    # line doc comments after a block comment kept their markers.
    c = "/**\n * Combine two values.\n * @param a\tthe first\n */\nint add(int a, int b) { return a + b; }\n"
    assert _targets(c, "c", "a.c")["docstring-from-code"] == "Combine two values.\n@param a\tthe first"
    rust = "/** Frob the thing. */\n/// Returns one.\nfn frob() -> i32 {\n    1\n}\n"
    assert _targets(rust, "rust", "a.rs")["docstring-from-code"] == "Frob the thing.\nReturns one."
    py = 'def f(a):\n\t"""Combine.\n\n\t@param a\tthe first\n\t"""\n\treturn a\n'
    assert _targets(py, "python", "a.py")["docstring-from-code"] == "Combine.\n\n@param a\tthe first"
    # A one-line summary has no margin: the closing quotes' indentation stayed in the target.
    py = 'class C:\n    def close(self):\n        """Raise GeneratorExit inside.\n        """\n        return None\n'
    assert _targets(py, "python", "a.py")["docstring-from-code"] == "Raise GeneratorExit inside."


def test_a_rust_functions_attributes_stay_in_the_code_to_document() -> None:
    # As Python's decorators and Java's annotations do: `#[inline]` between the doc comment and
    # the `fn` was left out of the docstring-from-code prompt.
    pytest.importorskip("tree_sitter_rust")
    text = (
        "impl S {\n    /// Doubles.\n    #[inline]\n    #[must_use]\n"
        "    pub fn double(x: i32) -> i32 {\n        x * 2\n    }\n}\n"
    )
    samples, _ = SampleBuilder(["docstring"], seed=0).build(text, "rust", "a.rs", "repo")
    prompt = next(s["prompt"] for s in samples if s["template"] == "docstring-from-code")
    assert "```rust\n#[inline]\n#[must_use]\npub fn double(x: i32) -> i32 {\n    x * 2\n}\n```" in prompt
    assert "Doubles" not in prompt


def test_a_deeply_nested_body_is_a_target_not_a_recursion_error() -> None:
    # `return "a" + "b" + ...` nests a level a term: 400 of them ended the whole run.
    terms = " +\n      ".join(f'"line {i}\\n"' for i in range(400))
    java = f"class Help {{\n  /** The usage text. */\n  static String usage() {{\n    return {terms};\n  }}\n}}\n"
    targets = _targets(java, "java", "Help.java")
    assert targets["docstring-from-code"] == "The usage text."
    assert targets["body-from-docstring"].rstrip().endswith('"line 399\\n";\n}')


def test_a_python_docstring_with_a_trailing_comment_or_at_the_end_of_the_file_is_a_target() -> None:
    # Both were taken for "something shares the docstring's line" and dropped, uncounted.
    text = (
        'def b(x):\n    """Return x tripled."""  # noqa: D401\n    return 3 * x\n\n\n'
        'def c(x):\n    """Return x, unchanged (a stub)."""'
    )
    by = _docstring_samples(text, "python", "m.py")
    assert sorted(by) == ["b", "c"]
    doc, body = by["b"]
    assert doc["completion"] == "Return x tripled."
    assert "def b(x):\n    return 3 * x\n```" in doc["prompt"]  # the comment went with the docstring
    assert body["completion"] == "    return 3 * x"
    assert [s["completion"] for s in by["c"]] == ["Return x, unchanged (a stub)."]


def test_a_block_doc_comment_without_a_star_margin_keeps_its_indentation() -> None:
    c = (
        "/*!\n    Sums the list.\n\n    Example:\n        if (sum(xs, 3) != 6) {\n            abort();\n"
        "        }\n*/\nint sum(const int *xs, int n) { return n; }\n"
    )
    want = "Sums the list.\n\nExample:\n    if (sum(xs, 3) != 6) {\n        abort();\n    }"
    assert _targets(c, "c", "a.c")["docstring-from-code"] == want
    # A markdown list is no margin, and `**/` leaves no `*` behind.
    js = "/**\n  Picks a mode.\n  * fast: skips checks\n*/\nfunction pick(m) {\n  return m;\n}\n"
    assert _targets(js, "javascript", "a.js")["docstring-from-code"] == "Picks a mode.\n* fast: skips checks"
    java = "class A {\n  /** Returns one. **/\n  int one() { return 1; }\n}\n"
    assert _targets(java, "java", "A.java")["docstring-from-code"] == "Returns one."
    # With a margin, each line that has it loses it (javadoc's reading), nor do a banner's edges stay.
    c = "/*******\n * Sums.\n   more\n *******/\nint sum(int n) { return n; }\n"
    assert _targets(c, "c", "a.c")["docstring-from-code"] == "Sums.\n  more"


@pytest.mark.parametrize(
    ("lang", "path", "code"),
    [
        ("c", "a.c", "void buf_free(struct buf *b)\n{\n    free(b);\n}\n"),
        ("cpp", "a.cpp", "void buf_free(buf *b)\n{\n    delete b;\n}\n"),
        ("rust", "a.rs", "fn buf_free(b: Buf) {\n    drop(b);\n}\n"),
    ],
)
def test_a_banner_of_slashes_is_no_doc_text(lang: str, path: str, code: str) -> None:
    # Doxygen and rustdoc read `////` as an ordinary comment: C's target held the banners, and
    # Rust's walk up stopped at the one under the doc.
    banner = "/" * 40 + "\n"
    text = f"{banner}/// Frees the buffer.\n{banner}{code}"
    assert _targets(text, lang, path)["docstring-from-code"] == "Frees the buffer."


def test_a_decorated_typescript_method_gets_docstring_samples() -> None:
    text = (
        "export class Button {\n  /** Handles a click on the button. */\n  @HostListener('click')\n"
        "  onClick(event: MouseEvent): void {\n    this.clicked.emit(event);\n  }\n}\n"
    )
    pytest.importorskip("tree_sitter_typescript")
    samples, missed = SampleBuilder(["docstring"], seed=0).build(text, "typescript", "b.ts", "repo")
    doc = next(s for s in samples if s["template"] == "docstring-from-code")
    assert doc["completion"] == "Handles a click on the button."
    assert "```typescript\n@HostListener('click')\nonClick(event: MouseEvent): void {" in doc["prompt"]
    assert not missed


def test_a_syntax_error_is_the_reason_given_for_what_it_left_out() -> None:
    # A merge-conflict marker at the top was counted as a file without boundaries or documented
    # functions, which it has.
    body = 'def area(w, h):\n    """Return the area."""\n    return w * h\n'
    kinds = ["completion", "fim", "docstring"]
    samples, missed = SampleBuilder(kinds, fim_rate=1.0).build(
        "<<<<<<< HEAD\nx = 1\n=======\n" + body, "python", "g.py", "r"
    )
    assert samples == []
    assert missed == {"completion_syntax_error": 1, "fim_syntax_error": 1, "docstring_syntax_error": 1}
    # With no error, or one that leaves out no function, the reasons stay what they were.
    _, missed = SampleBuilder(["docstring"]).build("x = 1\n", "python", "g.py", "r")
    assert missed == {"docstring_none": 1}
    _, missed = SampleBuilder(["docstring"]).build("def f(x):\n    return x\n\nx = (1\n", "python", "g.py", "r")
    assert missed == {"docstring_none": 1}
