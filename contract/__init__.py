"""The booking's contract: the messages its workflow, activities, database and API exchange,
and the failure types that cross those boundaries. It imports nothing of ours but domain/."""
