"""Owner ids and the names they show: a rename is one row, seen by every reader; other rows show as they are."""

from cnn_core.study.owners import OwnerNames, is_owner, new_owner, shown_name


def test_a_rename_is_seen_by_another_reader_and_legacy_names_show_as_they_are(tmp_path):
    owner, other = new_owner(), new_owner()
    assert is_owner(owner) and owner != other and not is_owner("Swift Otter 42") and not is_owner(None)
    OwnerNames(tmp_path).set(owner, "Swift Otter 42")
    OwnerNames(tmp_path).set(owner, "Ada")
    names = OwnerNames(tmp_path).names()
    assert names == {owner: "Ada"}
    assert [shown_name(w, names) for w in (owner, other, "writer-0", "")] == ["Ada", "(no name)", "writer-0", "(no name)"]


def test_only_owner_ids_get_a_name(tmp_path):
    import pytest

    with pytest.raises(ValueError):
        OwnerNames(tmp_path).set("'; DROP TABLE owners; --", "x")
