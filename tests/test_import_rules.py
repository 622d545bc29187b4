"""The layering the maintainers keep: no import cycles; converters never reach for resolvers, the
pipeline or the service; the transport knows no Label Studio; the CLI and the service use only the
pipeline's public names."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ml_data"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _target(node: ast.ImportFrom | ast.Import, module: str) -> list[tuple[str, list[str]]]:
    """(imported module, names) of one import statement, relative imports resolved."""
    if isinstance(node, ast.Import):
        return [(alias.name, []) for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if not MODULES[module].name == "__init__.py":
            package = package[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
    found = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        found.append((submodule, []) if submodule in MODULES else (base, [alias.name]))
    return found


def _runtime_statements(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements under ``node`` that can run: at the top level or inside a function
    (a lazy import is a dependency all the same), not under ``if TYPE_CHECKING``."""
    if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        return [statement for child in node.orelse for statement in _runtime_statements(child)]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [node]
    return [statement for child in ast.iter_child_nodes(node) for statement in _runtime_statements(child)]


def _import_time_statements(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module is imported: outside functions, not under
    ``if TYPE_CHECKING``."""
    if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        return [statement for child in node.orelse for statement in _import_time_statements(child)]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        return []
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [node]
    return [statement for child in ast.iter_child_nodes(node) for statement in _import_time_statements(child)]


def import_time_imports(module: str) -> list[str]:
    """The ml_data modules that importing ``module`` imports in turn (not lazy imports in functions)."""
    tree = ast.parse(MODULES[module].read_text("utf-8"))
    found = []
    for statement in _import_time_statements(tree):
        for target, _ in _target(statement, module):
            if target == "ml_data" or target.startswith("ml_data."):
                found.append(target)
    return found


def imports(module: str, *, runtime_only: bool) -> list[tuple[str, list[str]]]:
    """What ``module`` imports from ml_data: with ``runtime_only``, the imports that can run (at the
    top level or inside functions, not under TYPE_CHECKING); otherwise every import in it."""
    tree = ast.parse(MODULES[module].read_text("utf-8"))
    if runtime_only:
        statements = _runtime_statements(tree)
    else:
        statements = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    found = []
    for statement in statements:
        for target, names in _target(statement, module):
            if target == "ml_data" or target.startswith("ml_data."):
                found.append((target, names))
    return found


def test_no_import_cycles():
    graph = {module: {target for target, _ in imports(module, runtime_only=True)} & set(MODULES) for module in MODULES}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, "import cycle: " + " -> ".join([*visiting[visiting.index(module) :], module])
        visiting.append(module)
        for target in sorted(graph[module]):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert len(done) == len(MODULES) > 40


def test_converters_never_import_resolvers_pipeline_or_service():
    forbidden = ("ml_data.resolvers", "ml_data.pipeline", "ml_data.service", "ml_data.labelstudio", "ml_data.http")
    forbidden += ("ml_data.cache", "ml_data.ray", "ml_data.cli")
    for module in MODULES:
        if module.startswith("ml_data.converters"):
            for target, _ in imports(module, runtime_only=False):
                assert not target.startswith(forbidden), f"{module} imports {target}"


def test_the_task_model_sits_beneath_the_converters_and_the_pipeline():
    """ml_data.tasks (the task model, the export reader, the labeling config, the resource walk,
    a task's identity) reads tasks and nothing more: it imports none of the layers that use it,
    not even for type checking, and at import time or in a function it reaches only the
    foundation (errors, settings, JSON, redaction, hashing) and Label Studio's path grammar."""
    above = ("converters", "pipeline", "resolvers", "service", "cli", "ray", "http", "cache", "doctor")
    above += ("labelstudio.client", "labelstudio.auth", "urls")
    foundation = {"ml_data.errors", "ml_data.config", "ml_data.parsing", "ml_data.settings_table", "ml_data.jsonio"}
    foundation |= {"ml_data.redaction", "ml_data.hashing", "ml_data.labelstudio.paths", "ml_data.labelstudio.storages"}
    tasks = [module for module in MODULES if module == "ml_data.tasks" or module.startswith("ml_data.tasks.")]
    assert {"ml_data.tasks.model", "ml_data.tasks.reader", "ml_data.tasks.resources"} <= set(tasks)
    for module in tasks:
        for target, _ in imports(module, runtime_only=False):
            name = target.removeprefix("ml_data.")
            assert not name.startswith(tuple(layer + "." for layer in above) + above), f"{module} imports {target}"
        for target, _ in imports(module, runtime_only=True):
            assert target.startswith("ml_data.tasks") or target in foundation, f"{module} imports {target}"
    for module in ("ml_data.tasks", *tasks):
        reached = {found for found in _imported_at_import_time(module) if not found.startswith("ml_data.tasks")}
        assert reached <= foundation, f"{module} reaches {sorted(reached - foundation)}"


def test_no_module_keeps_a_second_task_model_or_resource_walk():
    """The task model, the reader and the labeling config live only under ml_data.tasks, and the
    question "which files does this task reference" is answered only there."""
    for old in ("model", "reader", "label_config", "json_errors"):
        assert f"ml_data.converters.{old}" not in MODULES
    for module, path in MODULES.items():
        if module.startswith("ml_data.tasks"):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)}
        walks = {"looks_like_resource", "resource_keys", "task_resources", "rewrite_resources", "find_resources"}
        assert not defined & walks, f"{module} defines {sorted(defined & walks)}"


def test_the_transport_knows_no_label_studio_and_nothing_above_it():
    """http (with its pinned connections, retries and credentials protocol), urls, http_errors and
    deadline carry any credentials they are handed; what Label Studio's are, and who uses them,
    lives above them (not even a TYPE_CHECKING import)."""
    transport = ("ml_data.http", "ml_data.http_pinned", "ml_data.http_retry", "ml_data.http_credentials")
    transport += ("ml_data.urls", "ml_data.http_errors", "ml_data.deadline")
    above = ("ml_data.labelstudio", "ml_data.resolvers", "ml_data.pipeline", "ml_data.service", "ml_data.cli")
    for module in transport:
        assert module in MODULES
        for target, _ in imports(module, runtime_only=False):
            assert not (target in above or target.startswith(tuple(name + "." for name in above))), (
                f"{module} imports {target}"
            )


def test_the_cli_and_the_service_use_only_public_names_of_the_pipeline():
    users = [module for module in MODULES if module.startswith(("ml_data.cli", "ml_data.service"))]
    checked = 0
    for module in users:
        for target, names in imports(module, runtime_only=False):
            if target.startswith("ml_data.pipeline"):
                checked += 1
                assert not any(part.startswith("_") for part in target.split(".")), f"{module} imports {target}"
                assert not any(name.startswith("_") for name in names), f"{module} imports {names} from {target}"
    assert checked >= 3


def test_the_cli_sits_on_top_and_its_groups_stand_alone():
    """ml_data.cli is the top face: nothing else in ml_data imports it, not even for type checking.
    Its command groups are registered by ml_data/cli/__init__.py alone: no group imports the
    package (where the top-level group lives) or another group, only the shared helpers
    (cli.common) and the options table (cli.options)."""
    cli = [module for module in MODULES if module.startswith("ml_data.cli.")]
    assert {"ml_data.cli.resolve", "ml_data.cli.datasets", "ml_data.cli.cache", "ml_data.cli.serve"} <= set(cli)
    for module in MODULES:
        if module == "ml_data.cli" or module in cli:
            continue
        for target, _ in imports(module, runtime_only=False):
            assert not target.startswith("ml_data.cli"), f"{module} imports {target}"
    shared = {"ml_data.cli.common", "ml_data.cli.options"}
    for module in cli:
        if module == "ml_data.cli.__main__":  # python -m ml_data.cli: runs the top-level group
            continue
        allowed = set() if module in shared else shared
        for target, _ in imports(module, runtime_only=False):
            if target.startswith("ml_data.cli"):
                assert target in allowed, f"{module} imports {target}"


def test_the_resolvers_package_only_re_exports():
    tree = ast.parse(MODULES["ml_data.resolvers"].read_text("utf-8"))
    definitions = [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)]
    assert definitions == []


def test_only_ml_data_ray_imports_ray():
    """The single-machine path never imports Ray: no module outside ml_data.ray names it at import
    time, and loading the CLI, the pipeline and the service leaves it unloaded."""
    import subprocess
    import sys

    for module, path in MODULES.items():
        if module == "ml_data.ray" or module.startswith("ml_data.ray."):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        top = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
        named = [alias.name for node in top if isinstance(node, ast.Import) for alias in node.names]
        named += [node.module or "" for node in top if isinstance(node, ast.ImportFrom) and not node.level]
        assert not [name for name in named if name == "ray" or name.startswith("ray.")], module
    probe = "import sys, ml_data, ml_data.cli, ml_data.pipeline, ml_data.service; print('ray' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def test_the_distributed_writer_knows_no_format_by_name():
    """ml_data.ray merges shards through the format registry (each format's ``merge``): it imports
    no module of a format."""
    from ml_data.converters import KNOWN_FORMATS

    format_modules = {target.split(":")[0] for target in KNOWN_FORMATS.values()}
    assert len(format_modules) >= 8
    for module in MODULES:
        if module == "ml_data.ray" or module.startswith("ml_data.ray."):
            for target, _ in imports(module, runtime_only=False):
                assert target not in format_modules, f"{module} imports {target}"


def test_the_file_system_helpers_sit_beneath_everything_but_the_errors():
    """ml_data.fsutil (atomic folders, safe file names) is shared by the converters, the cache and
    the pipeline: it imports nothing from ml_data but the errors."""
    targets = {target for target, _ in imports("ml_data.fsutil", runtime_only=False)}
    assert targets == {"ml_data.errors"}


def test_the_setting_parsers_sit_beneath_the_settings():
    """ml_data.parsing (sizes, durations, paths, URLs, keys read from text) is shared by config.py
    and service/config.py: it imports only the errors and the settings table's InvalidValue."""
    targets = {target for target, _ in imports("ml_data.parsing", runtime_only=False)}
    assert targets == {"ml_data.errors", "ml_data.settings_table"}


def test_the_settings_table_mechanism_knows_no_setting():
    """ml_data.settings_table sits beneath config.py and service/config.py: it imports only the errors."""
    targets = {target for target, _ in imports("ml_data.settings_table", runtime_only=False)}
    assert targets == {"ml_data.errors"}


def test_the_cache_sits_beneath_everything_that_fetches_and_its_store_on_top_of_its_parts():
    """The cache imports no layer above it; its layout is pure; the parts the store is built from
    (layout, locks, pending files, metadata, maintenance) reach the store only for type hints."""
    above = ("ml_data.resolvers", "ml_data.pipeline", "ml_data.service", "ml_data.cli", "ml_data.labelstudio")
    above += ("ml_data.http", "ml_data.urls", "ml_data.converters", "ml_data.ray", "ml_data.tasks")
    cache = [module for module in MODULES if module.startswith("ml_data.cache.")]
    for module in cache:
        for target, _ in imports(module, runtime_only=False):
            assert not target.startswith(above), f"{module} imports {target}"
    assert imports("ml_data.cache.layout", runtime_only=False) == []
    parts = [module for module in cache if module not in ("ml_data.cache.store", "ml_data.cache.freshness")]
    assert len(parts) >= 6
    for module in parts:
        targets = {target for target, _ in imports(module, runtime_only=True)}
        assert "ml_data.cache.store" not in targets, f"{module} imports the store at run time"


def _imported_at_import_time(start: str) -> set[str]:
    """Every ml_data module that importing ``start`` runs, following its top-level imports."""
    reached: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in reached or module not in MODULES:
            continue
        reached.add(module)
        todo.extend(import_time_imports(module))
    return reached


def test_parsing_a_url_imports_nothing_that_does_io():
    """Reading a URL into a Ref is pure: the refs, the parser, the table of URL kinds and the cloud
    providers' hosts and signature parameters reach no cache, HTTP client, Label Studio client or
    fetcher."""
    allowed = {
        "ml_data.errors",
        "ml_data.config",
        "ml_data.parsing",
        "ml_data.settings_table",
        "ml_data.urls",
        "ml_data.media_types",
        "ml_data.data_uris",
        "ml_data.redaction",
        "ml_data.hashing",
        "ml_data.resolvers.base",
        "ml_data.resolvers.beneath",
        "ml_data.resolvers.refs",
        "ml_data.resolvers.parse",
        "ml_data.resolvers.registry",
        "ml_data.labelstudio.storages",
        "ml_data.labelstudio.paths",
    }
    starts = (
        "ml_data.resolvers.parse",
        "ml_data.resolvers.refs",
        "ml_data.resolvers.registry",
        "ml_data.resolvers.clouds",
    )
    for start in starts:
        reached = _imported_at_import_time(start)
        outside = {
            module for module in reached if module not in allowed and not module.startswith("ml_data.resolvers.clouds")
        }
        assert not outside, f"{start} imports {sorted(outside)}"


def test_only_the_cloud_providers_import_a_cloud_sdk_and_only_when_used():
    """boto3, google-cloud-storage and azure-storage-blob are optional extras: only the provider
    modules under ml_data/resolvers/clouds/ import them, inside the functions that need them."""
    sdks = ("boto3", "botocore", "google", "azure")
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"))
        top = set(tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            if any(name.split(".")[0] in sdks for name in names):
                assert module.startswith("ml_data.resolvers.clouds."), f"{module} imports {names}"
                assert node not in top, f"{module} imports {names} at import time"


def test_the_treebank_tokenizer_imports_nothing_of_ml_data_and_nltk_only_when_a_text_needs_it():
    """ml_data.converters.treebank is text in, tokens out; NLTK is its fallback for a few texts
    (importing NLTK takes a while), loaded on the first of them."""
    import subprocess
    import sys

    assert imports("ml_data.converters.treebank", runtime_only=False) == []
    probe = (
        "import sys\n"
        "from ml_data.converters import conll\n"
        "conll.tokenize('Jane said: \"don\\'t\" (10:30)...')\n"
        "print('nltk' in sys.modules)\n"
        "conll.tokenize('``quoted``')\n"
        "print('nltk' in sys.modules)\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.split() == ["False", "True"]
