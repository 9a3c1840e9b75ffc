"""`curate pretrain`: the Megatron-style training entrypoint (flags parsed by argparse in curate.pretrain.args)."""

from __future__ import annotations

import click


def _full_help() -> str:
    from curate.pretrain.args import build_parser

    return build_parser().format_help()


class _PassThrough(click.Command):
    """Hands every argument, --help included, to the argparse entrypoint so its help lists all flags."""

    def get_help(self, ctx) -> str:
        try:
            return _full_help()
        except ImportError as e:  # torch missing: still say what the command is
            return f"{self.help}\n\n(install curate[train] for the full flag list: {e})"


@click.command(
    "pretrain",
    cls=_PassThrough,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def pretrain(argv: tuple[str, ...]) -> None:
    """Train a GPT with multi-token prediction on Megatron .bin/.idx shards (Megatron-style flags; see --help)."""
    try:
        from curate.pretrain.train import main
    except ImportError as e:
        raise click.ClickException(f"curate pretrain needs torch (pip install 'curate[train]'): {e}") from None
    main(list(argv))
