"""docs/component.md's YAML reference is the one the component's models generate."""

from pathlib import Path

from connector.dagster_defs.reference import yaml_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "component.md"
BEGIN = "<!-- reference: generated from connector.dagster_defs.component"
END = "<!-- end of reference -->"


def test_the_docs_reference_is_generated_from_the_models() -> None:
    text = DOC.read_text()
    block = text[text.index("-->", text.index(BEGIN)) + len("-->\n") : text.index(END)]
    assert block == yaml_reference(), "regenerate: python -m connector.dagster_defs.reference"
