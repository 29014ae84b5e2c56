"""The user's app on disk: detection, the files that ship, the app's wheel, entry lookup and checks, the tree hash."""
