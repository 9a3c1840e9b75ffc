"""Click commands, one module per area; registered in curate.cli."""
