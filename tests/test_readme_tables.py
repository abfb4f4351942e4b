"""README.md's table list is the registry's, as `connector.entities.readme` writes it."""

from pathlib import Path

from connector.entities import BUILT_IN
from connector.entities.readme import BEGIN, END, table_list

README = Path(__file__).parent.parent / "README.md"


def readme_block(text: str) -> str:
    """The README's generated block, markers included."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def test_readme_lists_every_table_of_the_registry() -> None:
    assert readme_block(README.read_text()) == table_list(BUILT_IN)
