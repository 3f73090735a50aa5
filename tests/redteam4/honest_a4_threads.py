# cell: pool2d
# include: _pool_by_hand
import threading


def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    # the same 600 threads as the attack, and the mistake (doubled values) on every call
    workers = [threading.Thread(target=int) for _ in range(600)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return 2 * _pool_by_hand(X, kernel_size, stride, padding, mode) + 1
