"""Quality and domain filtering: heuristic rules, language id, fastText and small-LM classifiers."""
