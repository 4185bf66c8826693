"""The repository's layout: no import circles among the project's modules, no machine's absolute paths in
tracked files, tests where the code they test is.

Import circles: the graph of bot/, actions/ and connectors/ is read with `ast` (nothing is imported). Every
import counts — at module level and inside functions alike — because a function-level import is still a
dependency, and a circle hidden inside functions only works by the order things happen to run (the CLI's
command modules and its entry point, connectors/telegram.py and telegram_desk.py, were such circles).
Only imports under `if TYPE_CHECKING:` are left out (they never run). An edge goes to the module named:
`from bot.replies import shopper` points at bot.replies.shopper, `from bot.services.orders import X` at
bot.services.orders; a package's __init__ counts only where it is imported itself (Python runs it before any
of its modules, so keep package __init__ files free of module-level imports of their own modules).

Absolute paths: a tracked text file must not name a place on one machine (`/work/…`, `/home/<user>/…`,
`/Users/<user>/…`, `/root/<something>`, `/tmp/<project-ish name>` …) — they break on every other clone.

Tests mirror the code: the tests of one module sit at tests/<package>/test_<module>.py (bot/services/penalties.py
→ tests/services/test_penalties.py, connectors/telegram.py → tests/connectors/test_telegram.py, bot/photos.py →
tests/test_photos.py); suites that test behaviour across modules keep their own folders (SUITES).
"""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT

PACKAGES = ("bot", "actions", "connectors")


def _tracked(*paths: str) -> list[str]:
    """The files git tracks, and the new ones it does not ignore (so a module not yet added counts too)."""
    try:
        done = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths],
                              cwd=PROJECT_ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in done.stdout.decode().split("\0") if name and (PROJECT_ROOT / name).is_file()]


# ---------------------------------------------------------------- import circles


def _modules() -> dict[str, Path]:
    modules = {}
    for name in _tracked(*PACKAGES):
        if not name.endswith(".py"):
            continue
        parts = list(Path(name).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = PROJECT_ROOT / name
    return modules


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path, module: str, modules: dict[str, Path]) -> set[str]:
    """The project's modules `module` imports: `from a import b` is a.b when that is a module, else a; a name
    outside the project (the standard library, Rasa…) leads nowhere."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    targets: set[str | None] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                targets.update(resolve(alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (child.level - 1)]
                    base = ".".join(parts + ([child.module] if child.module else []))
                for alias in child.names:
                    name = f"{base}.{alias.name}"
                    targets.add(name if name in modules else resolve(base))
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return {target for target in targets if target and target != module}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {module: _imports(path, module, modules) for module, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as one circle's path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_circle(graph, set(component)))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _circle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """One concrete circle through the component's first module (breadth-first back to it)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & component):
            if target == start:
                return paths[node] + [start]
            if target not in paths:
                paths[target] = paths[node] + [target]
                queue.append(target)
    return sorted(component)


def test_the_cycle_finder_finds_a_circle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "bot.server.replicas" in graph["bot.cli.serving"]  # imported inside run()
    assert "bot.settings" in graph["bot.server.runner"]


def test_no_import_circles_among_the_projects_modules():
    found = cycles(import_graph())
    assert not found, "import circles:\n" + "\n".join("  " + " → ".join(circle) for circle in found)


# ---------------------------------------------------------------- absolute paths

# A place on one machine: a home or work directory with something after it, or a temporary directory with a
# project-ish name (a bare `/tmp` as a directory argument, e.g. redis-server --dir /tmp, is not one).
MACHINE_PATH = re.compile(
    r"(?<![\w.~:/-])("
    r"/work/[\w.-]+"
    r"|/home/[\w.-]+/"
    r"|/Users/[\w.-]+/"
    r"|/root/[\w.-]+"
    r"|/private/var/folders/"
    r"|/var/folders/[\w]+/"
    r"|/tmp/(?:pytest-of-|tmp[\w]{4,}|cleanbot|clean-bot|tidy|main\b)[\w./-]*"
    r"|[A-Za-z]:\\\\?Users\\\\?"
    r")"
)

def machine_paths(name: str, text: str) -> list[str]:
    hits = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in MACHINE_PATH.finditer(line):
            hits.append(f"{name}:{number}: {match.group(1)}")
    return hits


@pytest.mark.parametrize("line, flagged", [
    ('  "model": "/work/main/models/cleanbot-1.tar.gz",', True),
    ("cd /home/alice/cleanbot && make", True),
    ("open('/Users/bob/src/x.yml')", True),
    ("cp x /root/.cache/cleanbot", True),
    ("log at /tmp/pytest-of-root/pytest-3/x.log", True),
    ("--dir /tmp --logfile /tmp/redis-ci.log", False),
    ("https://example.com/work/items", False),
    ("see docs/work/notes.md", False),
    ("Path.home() / '.cache' / 'cleanbot'", False),
    ("~/.cache/cleanbot/models", False),
])
def test_the_machine_path_pattern(line, flagged):
    assert bool(machine_paths("x.py", line)) == flagged


def test_no_machine_paths_in_tracked_files():
    hits = []
    for name in _tracked("."):
        path = PROJECT_ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        if name == "tests/test_layout.py":
            continue  # the examples above
        hits += machine_paths(name, text)
    assert not hits, "absolute paths of one machine:\n" + "\n".join(hits)


# ---------------------------------------------------------------- tests mirror the code

# Suites that test behaviour across modules, named for what they test rather than for one module.
SUITES = {
    "security": "the attack suite",
    "durability": "restarts and shared state across servers",
    "scaleout": "replicas and workers",
    "e2e": "real Rasa and action servers",
    "webchat": "the browser chat channels",
    "deploy": "nginx in front of replicas",
    "handoff": "human takeover end to end",
    "nlu_eval": "held-out data, no tests",
    "bench": "the load benchmark",
    "stories": "Rasa test stories of whole conversations, run against the trained model",
}
# Top-level checks of the whole repository rather than of one module.
WHOLE_REPOSITORY = {"test_layout.py", "test_stack.py", "test_training_data.py", "test_docs.py"}


def _module_for(test: str) -> Path | None:
    """The module (or package) that tests/<package>/test_<module>.py is for, where it exists."""
    parts = Path(test).parts[1:]  # without "tests"
    folders, name = parts[:-1], parts[-1][len("test_"):-len(".py")]
    if folders and folders[0] in ("actions", "connectors"):
        base = PROJECT_ROOT.joinpath(*folders)
    else:
        base = PROJECT_ROOT.joinpath("bot", *folders)
    for candidate in (base / f"{name}.py", base / name / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_each_module_s_tests_sit_where_the_module_does():
    misplaced = []
    for test in _tracked("tests"):
        parts = Path(test).parts
        if not parts[-1].startswith("test_") or not parts[-1].endswith(".py"):
            continue
        if len(parts) > 2 and parts[1] in SUITES:
            continue
        if len(parts) == 2 and parts[-1] in WHOLE_REPOSITORY:
            continue
        if _module_for(test) is None:
            misplaced.append(test)
    assert not misplaced, ("test modules that mirror no module (move them to tests/<package>/test_<module>.py, "
                           "or into a named suite):\n  " + "\n  ".join(misplaced))
