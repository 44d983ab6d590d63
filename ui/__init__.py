"""App-side helpers shared by the pages: session state, caching wrappers, widgets and charts."""
