"""Practice as the counselor: a person takes the counselor's turns of a simulated course in a local web page.

``human_counselor`` (the counselor that waits for the person), ``course_driver`` (runs and resumes
the course graph), ``page_view`` (what the page shows), ``server`` (the Starlette app and uvicorn).
"""
