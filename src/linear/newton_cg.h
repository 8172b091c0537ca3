#ifndef CORECLEAN_SRC_LINEAR_NEWTON_CG_H_
#define CORECLEAN_SRC_LINEAR_NEWTON_CG_H_

// A truncated Newton optimizer for smooth, twice-differentiable convex objectives. It knows
// nothing about logistic loss: the objective supplies value, gradient, Hessian-vector products,
// the Hessian diagonal and a line search that may reuse cached products.
//
// Each iteration approximately solves H s = −g by preconditioned conjugate gradient, stopping
// on the relative decrease of the quadratic model Q(s) = gᵀs + ½ sᵀHs (Nash & Sofer 1990,
// j·(Q_{j−1} − Q_j) ≤ ε_cg·(−Q_j) with ε_cg = 0.5), with the diagonal preconditioner
// M = (1 − α) I + α diag(H), α = 0.01 (Hsia, Chiang, Lin, ACML 2018), then takes an Armijo
// backtracking step along s (Galli & Lin 2021).

#include <Eigen/Core>

namespace coreclean::linear {

/// A twice-differentiable objective in the form Newton-CG needs. Calls follow the pattern:
/// value_and_gradient(w) once, then any number of hessian_vector/diagonal at that w, then
/// line_search from w (which moves the objective to the accepted point).
class SecondOrderObjective {
 public:
  virtual ~SecondOrderObjective() = default;
  /// Number of variables.
  [[nodiscard]] virtual Eigen::Index dimension() const = 0;
  /// Sets the current point to w and returns f(w); writes ∇f(w) into g.
  virtual double value_and_gradient(const Eigen::VectorXd& w, Eigen::VectorXd& g) = 0;
  /// hv = ∇²f(w) v at the current point.
  virtual void hessian_vector(const Eigen::VectorXd& v, Eigen::VectorXd& hv) = 0;
  /// diag(∇²f(w)) at the current point.
  virtual void hessian_diagonal(Eigen::VectorXd& diag) = 0;
  /// Backtracking line search from the current point w along descent direction s with Armijo
  /// constant eta. On success sets w ← w + αs, makes it the current point (ready for the next
  /// value_and_gradient at the same w) and returns the new f; returns false if no step of the
  /// allowed sizes decreases f enough (w unchanged).
  virtual bool line_search(Eigen::VectorXd& w, const Eigen::VectorXd& s, const Eigen::VectorXd& g,
                           double f, double eta, double& f_new, double& alpha) = 0;
  /// Asks for full-precision Hessian products from now on. Objectives that compute them in
  /// reduced precision for speed switch over; called once the gradient is small, where the
  /// reduced precision would start to limit convergence.
  virtual void refine_hessian() {}
};

/// Settings of NewtonCg.
struct NewtonCgParams {
  double tol = 1e-4;        ///< stop when ‖g‖ ≤ tol·‖g0‖
  double gradient_norm0 = 0.0;  ///< ‖g0‖ to compare against; 0 = the gradient at the start point
  int max_iter = 100;       ///< Newton iterations
  int max_cg_iter = 250;    ///< CG steps per Newton iteration
  double eps_cg = 0.5;      ///< quadratic-model stopping constant
  double eta = 0.01;        ///< Armijo sufficient-decrease constant
  double precondition_alpha = 0.01;  ///< mixing of the diagonal preconditioner
  double refine_below = 1e-4;  ///< call refine_hessian() once ‖g‖/‖g0‖ drops below this
};

/// Result of NewtonCg::minimize.
struct NewtonCgResult {
  bool converged = false;
  int iterations = 0;
  int cg_iterations = 0;
  double gradient_ratio = 0.0;
  double objective = 0.0;
};

/// Minimises `objective` starting from w (updated in place).
NewtonCgResult newton_cg_minimize(SecondOrderObjective& objective, Eigen::VectorXd& w,
                                  const NewtonCgParams& params);

}  // namespace coreclean::linear

#endif  // CORECLEAN_SRC_LINEAR_NEWTON_CG_H_
