from pathlib import Path

from mndtrial.data.docs import BEGIN, END, render_tables

DOC = Path(__file__).resolve().parents[1] / "docs" / "data-model.md"


def test_data_model_doc_matches_schema():
    text = DOC.read_text()
    documented = text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip()
    assert documented == render_tables().strip(), "regenerate with: python -m mndtrial.data.docs"
