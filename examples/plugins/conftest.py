"""The plugins here are what ``agl new-plugin`` writes, shown by the hook pages of docs/. Their
tests need the plugin installed through its entry point, which the root venv does not do on
purpose (it would register demo names for everyone): ``tests/docs/test_plugin_kit.py`` installs
them into a throwaway venv and runs their tests there."""

collect_ignore_glob = ["*"]
