"""The store: the server's settings, its database tables and sessions (students, submissions,
extensions, earlier results, the LTI tables). Used by the course's calendar, the course
operations and the doors alike; imports nothing else of the grader.
"""
