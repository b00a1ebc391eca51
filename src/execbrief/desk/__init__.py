"""The review desk: a local web app to read, check, approve, regenerate and send briefs.

It sits beside the CLI (`execbrief review --serve`): every action calls the same
pipeline function the CLI calls, so approvals, revisions and sends are recorded the same
way. See docs/DESK.md for its security model.
"""
