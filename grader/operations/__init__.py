"""Course operations, the instructor's work on a whole course: releasing notebooks, regrades,
similarity, nbgrader's gradebook. They use the engine, the course and the store; the doors
(CLI, service) call them.
"""
