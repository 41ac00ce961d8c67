"""``raretune run``'s options: a TOML config file's, then the flags, as one :class:`RunConfig`."""

from __future__ import annotations

import dataclasses
import difflib
import typing

__all__ = ["read_toml", "run_config"]


def run_config(args, argv):
    """The :class:`RunConfig` of ``raretune run``: the TOML file's options, then the flags."""
    from ..run import RunConfig

    options = read_toml(args.config_file) if args.config_file else {}
    fields = {f.name for f in dataclasses.fields(RunConfig)} - {"command"}
    options.update({name: value for name, value in vars(args).items() if name in fields and value is not None})
    return RunConfig(**options, command=("raretune", *argv))


def read_toml(path) -> dict:
    """A config file's ``run`` options, each checked against :class:`RunConfig`'s field types.

    Raises
    ------
    ConfigError
        A missing, unreadable or invalid file, an unknown key ("did you mean"), a value of
        the wrong type.
    """
    import tomllib

    from .._errors import ConfigError
    from ..run import RunConfig

    shown = repr(str(path))
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {shown}.") from None
    except IsADirectoryError:
        raise ConfigError(f"Config file {shown} is a folder, not a TOML file.") from None
    except OSError as exc:
        raise ConfigError(f"Config file {shown} cannot be read: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Config file {shown} is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {shown} is not valid TOML: {exc}.") from None
    if "run" in table:
        if not isinstance(table["run"], dict):
            raise ConfigError(f"In {shown}, 'run' must be a table ([run]); got {type(table['run']).__name__}.")
        table = table["run"]
    hints = typing.get_type_hints(RunConfig)
    options = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in hints or name == "command":
            known = [f.name for f in dataclasses.fields(RunConfig) if f.name != "command"]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise ConfigError(f"Unknown option {key!r} in {shown}{hint}")
        options[name] = _typed(value, hints[name], key, shown)
    return options


def _typed(value, hint, key: str, shown: str):
    """``value`` if TOML gave it a type ``hint`` accepts (ints pass as floats), else ``ConfigError``."""
    from .._errors import ConfigError

    allowed = typing.get_args(hint) or (hint,)
    names = {getattr(t, "__name__", str(t)) for t in allowed}
    if value is None:
        return value
    if isinstance(value, bool):
        ok = "bool" in names
    elif isinstance(value, int):
        ok = bool(names & {"int", "float"})
        value = float(value) if "int" not in names and "float" in names else value
    elif isinstance(value, float):
        ok = "float" in names
    elif isinstance(value, str):
        ok = bool(names & {"str", "object", "PathLike"}) or "tuple" in names
    elif isinstance(value, list):
        ok = "tuple" in names and all(isinstance(v, str) for v in value)
    else:
        ok = False
    if not ok:
        # in TOML's words: a field typed tuple takes an array of strings
        wanted = " or ".join(sorted("an array of strings" if n == "tuple" else n for n in names if n != "NoneType"))
        got = "an array" if isinstance(value, list) else type(value).__name__
        raise ConfigError(f"Option {key!r} in {shown} must be {wanted}; got {got} {value!r}.")
    if isinstance(value, list):
        value = tuple(value)
    return value
