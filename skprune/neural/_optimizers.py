"""Stochastic optimizers that update the parameters of a network in place.

The update rules are those of scikit-learn's MLP (SGD with optional Nesterov
momentum and the three learning-rate schedules, and Adam), evaluated with the
same floating-point operations but without temporary arrays: every update
writes into preallocated buffers, and the gradient arrays handed to
``update_params`` are used as scratch space.

Masks are respected by :meth:`BaseOptimizer.zero_state`: once the state of a
pruned parameter is zero and its gradient is masked to zero, its update is
exactly zero, so a pruned weight stays exactly zero.
"""

import numpy as np

from ..utils._docstrings import fill_doc

# The first parameters of every optimizer.
_PARAMS_DOC = """
params : list of ndarray
    Coefficients followed by intercepts.
learning_rate_init : float
    The initial step size.
"""


class BaseOptimizer:
    """Common part of the stochastic optimizers.

    Parameters
    ----------
    learning_rate_init : float
        The initial step size.
    """

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)

    def update_params(self, params, grads):
        """Update the parameters in place.

        Parameters
        ----------
        params : list of ndarray
            Coefficients followed by intercepts, updated in place.
        grads : list of ndarray
            Gradients aligned with ``params``. They are overwritten.
        """
        raise NotImplementedError

    def iteration_ends(self, time_step):
        """Adapt the learning rate at the end of an epoch.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far.
        """

    def trigger_stopping(self, msg, verbose):
        """Decide whether training stops when the loss stopped improving.

        Parameters
        ----------
        msg : str
            Why training would stop, printed when ``verbose``.
        verbose : bool
            Whether to print ``msg``.

        Returns
        -------
        is_stopping : bool
        """
        if verbose:
            print(msg + " Stopping.")
        return True

    def state_arrays(self):
        """Per-parameter state arrays, as lists aligned with the parameters.

        Returns
        -------
        states : list of list of ndarray
        """
        return []

    def zero_state(self, index, mask):
        """Zero the state of the masked-out entries of one parameter.

        Parameters
        ----------
        index : int
            Position of the parameter in the ``params`` list.
        mask : ndarray of bool
            False where the parameter is pruned.
        """
        for state in self.state_arrays():
            state[index] *= mask


@fill_doc(params=_PARAMS_DOC)
class SGDOptimizer(BaseOptimizer):
    """Stochastic gradient descent with momentum.

    Parameters
    ----------
    {params}
    lr_schedule : {"constant", "invscaling", "adaptive"}
        How the step size evolves: ``"invscaling"`` divides it by
        ``(t + 1) ** power_t`` with ``t`` the number of samples seen,
        ``"adaptive"`` divides it by 5 whenever the loss stops improving.
    momentum : float
        Momentum of the velocity.
    nesterov : bool
        Whether to use Nesterov's momentum.
    power_t : float
        Exponent of the inverse scaling schedule.
    """

    def __init__(
        self, params, learning_rate_init, lr_schedule, momentum, nesterov, power_t
    ):
        super().__init__(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocities = [np.zeros_like(param) for param in params]

    def update_params(self, params, grads):
        for param, velocity, grad in zip(params, self.velocities, grads):
            grad *= self.learning_rate
            velocity *= self.momentum
            velocity -= grad
            if self.nesterov:
                step = np.multiply(velocity, self.momentum)
                step -= grad
                param += step
            else:
                param += velocity

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = (
                float(self.learning_rate_init) / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False

    def state_arrays(self):
        return [self.velocities]


@fill_doc(params=_PARAMS_DOC)
class AdamOptimizer(BaseOptimizer):
    """Adam, with the bias correction folded into the step size.

    Parameters
    ----------
    {params}
    beta_1, beta_2 : float
        Decay rates of the first and second moment estimates.
    epsilon : float
        Added to the root of the second moment for numerical stability.

    References
    ----------
    Kingma, D. P. and Ba, J. (2015). Adam: a method for stochastic
    optimization. ICLR.
    """

    def __init__(self, params, learning_rate_init, beta_1, beta_2, epsilon):
        super().__init__(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.ms = [np.zeros_like(param) for param in params]
        self.vs = [np.zeros_like(param) for param in params]
        self._scratch = [np.empty_like(param) for param in params]

    def update_params(self, params, grads):
        self.t += 1
        self.learning_rate = (
            self.learning_rate_init
            * np.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        for param, m, v, grad, scratch in zip(
            params, self.ms, self.vs, grads, self._scratch
        ):
            m *= self.beta_1
            np.multiply(grad, 1 - self.beta_1, out=scratch)
            m += scratch
            np.square(grad, out=scratch)
            scratch *= 1 - self.beta_2
            v *= self.beta_2
            v += scratch
            np.sqrt(v, out=scratch)
            scratch += self.epsilon
            np.multiply(m, -self.learning_rate, out=grad)
            grad /= scratch
            param += grad

    def state_arrays(self):
        return [self.ms, self.vs]

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_scratch"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._scratch = [np.empty_like(m) for m in self.ms]
