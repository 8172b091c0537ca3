#include "linear/newton_cg.h"

namespace coreclean::linear {
namespace {

// Preconditioned CG on H s = −g. Returns the number of steps taken.
int preconditioned_cg(SecondOrderObjective& objective, const Eigen::VectorXd& g,
                      const Eigen::VectorXd& m_inv, const NewtonCgParams& params,
                      Eigen::VectorXd& s) {
  const Eigen::Index n = g.size();
  s.setZero(n);
  Eigen::VectorXd r = -g;
  Eigen::VectorXd z = m_inv.cwiseProduct(r);
  Eigen::VectorXd d = z;
  Eigen::VectorXd hd(n);
  double zr = z.dot(r);
  // Q(s) = gᵀs + ½ sᵀHs = ½ (gᵀs − rᵀs) because r = −g − Hs.
  double q_prev = 0.0;
  int steps = 0;
  for (; steps < params.max_cg_iter; ++steps) {
    if (zr <= 0.0) break;
    objective.hessian_vector(d, hd);
    const double dhd = d.dot(hd);
    if (!(dhd > 0.0)) break;  // no curvature along d (only possible through round-off)
    const double alpha = zr / dhd;
    s.noalias() += alpha * d;
    r.noalias() -= alpha * hd;
    const double q = 0.5 * (g.dot(s) - r.dot(s));
    if (q < 0.0 && (steps + 1) * (q_prev - q) <= params.eps_cg * (-q)) {
      ++steps;
      break;
    }
    q_prev = q;
    z = m_inv.cwiseProduct(r);
    const double zr_new = z.dot(r);
    d = z + (zr_new / zr) * d;
    zr = zr_new;
  }
  return steps;
}

}  // namespace

NewtonCgResult newton_cg_minimize(SecondOrderObjective& objective, Eigen::VectorXd& w,
                                  const NewtonCgParams& params) {
  NewtonCgResult result;
  const Eigen::Index n = objective.dimension();
  Eigen::VectorXd g(n), s(n), diag(n), m_inv(n);
  double f = objective.value_and_gradient(w, g);
  const double g0 = params.gradient_norm0 > 0.0 ? params.gradient_norm0 : g.norm();
  double gnorm = g.norm();
  result.objective = f;
  result.gradient_ratio = g0 > 0.0 ? gnorm / g0 : 0.0;
  if (g0 == 0.0 || gnorm <= params.tol * g0) {
    result.converged = true;
    return result;
  }
  bool refined = false;
  for (int iter = 0; iter < params.max_iter; ++iter) {
    if (!refined && gnorm < params.refine_below * g0) {
      objective.refine_hessian();
      refined = true;
    }
    objective.hessian_diagonal(diag);
    const double a = params.precondition_alpha;
    m_inv = ((1.0 - a) + a * diag.array()).inverse().matrix();
    result.cg_iterations += preconditioned_cg(objective, g, m_inv, params, s);
    double f_new = f, alpha = 0.0;
    ++result.iterations;
    if (!objective.line_search(w, s, g, f, params.eta, f_new, alpha)) break;  // stalled
    f = objective.value_and_gradient(w, g);
    gnorm = g.norm();
    result.objective = f;
    result.gradient_ratio = gnorm / g0;
    if (gnorm <= params.tol * g0) {
      result.converged = true;
      break;
    }
  }
  return result;
}

}  // namespace coreclean::linear
