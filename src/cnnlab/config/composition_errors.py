"""Hydra's own composition errors (a misspelt group option or key, a malformed override) as one paragraph
and exit code 2, like cnnlab's errors, instead of Hydra's multi-line report and exit code 1; so is a path
Hydra cannot use for its run dir or log (a file where the run dir should be, a read-only output dir)."""

from __future__ import annotations

import difflib
import functools
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from cnnlab.config.paths import CONF_DIR
from cnnlab.errors import ConfigError, unusable_path

FULL_ERROR = "HYDRA_FULL_ERROR"


def unknown_option(group: str, chosen: str, options: Iterable[str]) -> ConfigError:
    """The error for `group=chosen` when conf/<group>/ has no such file, with the close match and the list."""
    options = sorted(options)
    close = difflib.get_close_matches(chosen, options, n=1)
    hint = f"did you mean {group}={close[0]}? " if close else ""
    return ConfigError(
        f"{group}={chosen} names no file conf/{group}/{chosen}.yaml; {hint}Use one of {options}."
    )


def group_options(group: str, fallback: Iterable[str] = ()) -> list[str]:
    """Every option of a group of conf/, nested ones as `lab/question`; `fallback` (Hydra's own list, e.g.
    of hydra/launcher's plugins) for a group conf/ does not hold."""
    folder = CONF_DIR / group
    ours = (
        {str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml")}
        if folder.is_dir()
        else set()
    )
    return sorted(ours | set(fallback))


def as_config_error(error: ConfigCompositionException | OverrideParseException, command: str) -> ConfigError:
    """One paragraph for a Hydra composition error: the bad name, the close match, where to look."""
    listing = f"`{command} --help` lists the options and keys, `{command} --cfg job` prints the config"
    group = re.search(r"Available options in '([^']+)'", str(error))
    if isinstance(error, MissingConfigException) and group and error.missing_cfg_file:
        chosen = error.missing_cfg_file.removeprefix(f"{group[1]}/")
        options = group_options(group[1], error.options or ())
        return ConfigError(f"{unknown_option(group[1], chosen, options)} ({listing}.)")
    cause = error.__cause__
    if (
        isinstance(cause, ConfigKeyError | ConfigAttributeError)
        and cause.full_key
        and cause.parent_node is not None
    ):
        close = closest_key(cause.full_key, cause.parent_node)
        hint = f"Did you mean {close}? " if close else ""
        return ConfigError(
            f"{cause.full_key} is not a key of the config, so setting it would change nothing. {hint}"
            f"Set an existing key ({listing})."
        )
    said = str(error).split("\nConfig search path:")[0]
    if isinstance(error, OverrideParseException):
        said = f"{error.override} cannot be parsed as an override: {said}{quoting_hint(error.override)}"
    if cause is not None:
        said = f"{said} {str(cause).splitlines()[0]}"
    return ConfigError(f"{' '.join(said.split())} ({listing}.)")


def quoting_hint(override: str) -> str:
    """How to quote the value that made `override` unparsable: an argument without `=` is most likely the
    rest of the previous one, cut at a space by the shell; Hydra reads unquoted values in ASCII only."""
    key, equals, value = override.partition("=")
    if not equals:
        arguments = sys.argv[1:]
        before = arguments[arguments.index(override) - 1] if override in arguments[1:] else ""
        key, equals, value = before.partition("=")
        if equals:
            return (
                f". If the shell cut a value at a space, put quotes around the whole argument: "
                f"'{key}={value.strip(QUOTES)} {override}'"
            )
    elif not value.isascii() and value[:1] not in QUOTES:
        return (
            f". Hydra reads an unquoted value in ASCII only: quote it for Hydra, inside the shell's quotes: "
            f"'{key}=\"{value}\"'"
        )
    return ""


QUOTES = "'\""
# The command-line settings and environment variables that choose a path, for naming the one behind a path
# that cannot be used.
PATH_SETTINGS = (
    "hydra.run.dir",
    "hydra.sweep.dir",
    "paths.output_dir",
    "paths.data_root",
    "paths.cache_dir",
    "output_dir",
    "run",
)
PATH_VARIABLES = {"paths.output_dir": "CNNLAB_OUTPUT_DIR", "paths.data_root": "CNNLAB_DATA_ROOT"}


def path_settings(arguments: list[str]) -> dict[str, str]:
    """{setting: path} for the path settings among `arguments` and, where none is given, the environment
    variables behind paths.output_dir and paths.data_root."""
    given = {}
    for argument in arguments:
        key, equals, value = argument.lstrip("+").partition("=")
        if equals and key in PATH_SETTINGS:
            given[key] = value.strip(QUOTES)
    for key, variable in PATH_VARIABLES.items():
        if key not in given and os.environ.get(variable):
            given[f"{key} ({variable}={os.environ[variable]})"] = os.environ[variable]
    return given


def closest_key(full_key: str, parent: DictConfig) -> str | None:
    """The key meant by a misspelt one: a close name beside it, else the same name elsewhere (`epochs`
    for trainer.epochs)."""
    prefix, _, name = full_key.rpartition(".")
    close = difflib.get_close_matches(name, [str(key) for key in parent], n=1)
    if close:
        return f"{prefix}.{close[0]}" if prefix else close[0]
    root = OmegaConf.to_container(parent._get_root(), resolve=False)
    return next((key for key in _dotted_keys(root) if key.rpartition(".")[2] == name), None)


def _dotted_keys(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if f"{prefix}{key}" != "hydra":
                yield f"{prefix}{key}"
                yield from _dotted_keys(value, f"{prefix}{key}.")


@contextmanager
def composition_errors_as_paragraphs(command: str) -> Iterator[None]:
    """Hydra reports its errors itself unless HYDRA_FULL_ERROR is set: set it while Hydra runs, so a
    composition error reaches us, and print that as one paragraph (exit 2). Other exceptions pass on;
    a user who set HYDRA_FULL_ERROR gets Hydra's full report."""
    if os.environ.get(FULL_ERROR):
        yield
        return
    os.environ[FULL_ERROR] = "1"
    try:
        yield
    except (ConfigCompositionException, OverrideParseException) as error:
        print(f"error: {as_config_error(error, command)}", file=sys.stderr)
        sys.exit(2)
    except (
        OSError,
        ValueError,
    ) as error:  # ValueError: logging's "Unable to configure handler" of an OSError
        problem = unusable_path(error, path_settings(sys.argv[1:]))
        if problem is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    finally:
        os.environ.pop(FULL_ERROR, None)


def reports_composition_errors(command: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Decorate a @hydra.main entry point with composition_errors_as_paragraphs."""

    def wrap(hydra_main: Callable[[], Any]) -> Callable[[], Any]:
        @functools.wraps(hydra_main)
        def main() -> Any:
            with composition_errors_as_paragraphs(command):
                return hydra_main()

        return main

    return wrap
