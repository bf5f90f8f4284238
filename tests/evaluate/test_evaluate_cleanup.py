"""Removing what a program left: no recursion limit, no PATH_MAX, no symlink followed."""

import os
import stat

from codemill.evaluate._cleanup import remove_tree


def test_deep_tree_past_recursion_limit_and_path_max(tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    for _ in range(2500):  # 2500 levels of "dd/" is longer than PATH_MAX
        os.mkdir("dd", dir_fd=fd)
        child = os.open("dd", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(os.open("leaf", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.close(fd)
    remove_tree(str(top))
    assert not top.exists()


def test_symlinks_are_removed_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("k")
    os.chmod(outside, 0o750)
    top = tmp_path / "top"
    (top / "a").mkdir(parents=True)
    os.symlink(outside, top / "a" / "link-dir")
    os.symlink(outside / "keep", top / "link-file")
    os.symlink("/nonexistent", top / "dangling")
    remove_tree(str(top))
    assert not top.exists()
    assert (outside / "keep").read_text() == "k"
    assert stat.S_IMODE(os.stat(outside).st_mode) == 0o750


def test_unreadable_dirs_and_files_go_too(tmp_path):
    top = tmp_path / "top"
    (top / "a" / "b").mkdir(parents=True)
    (top / "a" / "b" / "f").write_text("x")
    os.chmod(top / "a" / "b" / "f", 0)
    os.chmod(top / "a" / "b", 0)
    os.chmod(top / "a", 0)
    remove_tree(str(top))
    assert not top.exists()


def test_a_file_or_nothing(tmp_path):
    remove_tree(str(tmp_path / "missing"))
    (tmp_path / "f").write_text("x")
    remove_tree(str(tmp_path / "f"))
    assert not (tmp_path / "f").exists()
