from talosaudit.cli import main

main()
